"""The ECS / ELBv2 data plane: task ENIs, stand-in responders, real target health.

Gaps in MiniStack 1.5.33 that this closes (measured, see docs/emulator.md "Data plane"):

1. A Fargate task in ``awsvpc`` mode runs without Docker as a record only: no ENI, no
   private IP, ``availabilityZone`` always ``<region>a``. Here each such task gets an ENI in
   one of its service's subnets (spread across AZs), a private IPv4 address inside that
   subnet's CIDR, the service's security groups and a public IP only when
   ``assignPublicIp`` is ENABLED; the ENI is visible in ``ec2:DescribeNetworkInterfaces``
   and in the task's ``attachments``, and is deleted when the task stops.
2. Nothing answers for a task. Here each running awsvpc task gets a *responder*: a small
   HTTP server on 127.0.0.1 (one thread, free port) that stands in for the task's
   containers on their ``containerPort``s and answers GET/HEAD on any path with 200 and a
   body naming the task. It stops when the task stops (scale-in, update, delete, stack
   delete, reset, process exit).
3. Tasks were never registered in their service's target group (MiniStack's own sync needs
   a Docker container IP). With an ENI address on the task, MiniStack's
   ``_sync_service_targets`` registers ``(private IP, containerPort)`` and withdraws it when
   the task stops.
4. ``DescribeTargetHealth`` said ``healthy`` for anything. Here a target backed by a
   responder is health-checked for real (HTTP to the responder, on the target group's
   health-check path, port, protocol, timeout and matcher); a dead responder is
   ``unhealthy``; a target group no listener forwards to reports ``unused``.
5. The load balancer forwarded to ``target.Id`` verbatim, i.e. to a 10.x address that does
   not exist here. Here a target whose (VPC, IP, port) belongs to a running task is
   proxied to that task's responder on loopback; an unknown private address gets a 502
   without any packet sent; traffic goes to healthy targets round-robin and fails open to
   all targets when none is healthy, as an ALB does.
6. ``DescribeNetworkInterfaces`` ignored ``Filters`` (so ``group-id`` could not link a
   security group to the tasks using it) and unknown ids.
(A ``Ref`` to a Number parameter reaching ECS as a string is ``types.py``'s: every resource
provider gets its schema's types there.)

Test-only control routes (never used by the conformance checks):
``GET /_faithful/dataplane`` lists responders and their threads;
``POST /_faithful/dataplane/responders/<task-id>/stop`` makes one task's responder stop
answering while the task stays RUNNING (a hung container), ``.../start`` revives it.
"""

from __future__ import annotations

import atexit
import http.client
import ipaddress
import itertools
import json
import logging
import secrets
import socketserver
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from xml.sax.saxutils import escape as _esc

log = logging.getLogger("faithful.dataplane")

THREAD_PREFIX = "faithful-dataplane-responder"
CONTROL_PREFIX = "/_faithful/dataplane"
# A health check never blocks the caller longer than this, whatever the target group says.
MAX_PROBE_SECONDS = 2.0

_lock = threading.RLock()
_responders: dict[str, _Responder] = {}  # task ARN -> responder
_rr: dict[str, itertools.count] = {}  # target group ARN -> round-robin counter
_installed = False


# ---------------------------------------------------------------------------
# The stand-in responder
# ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server_version = "faithful-responder/1"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after a stop
    timeout = 5  # a stalled client cannot hold the responder's only thread
    server: _Server

    def _answer(self, with_body: bool) -> None:
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def _refuse(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def log_message(self, format: str, *args: Any) -> None:  # BaseHTTPRequestHandler's signature
        log.debug("responder %s: " + format, self.server.server_port, *args)


class _Server(HTTPServer):
    allow_reuse_address = False
    body: bytes = b""  # what every GET answers

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Responder:
    """One running awsvpc task: its ENI facts and the server standing in for its containers."""

    def __init__(
        self,
        task: dict,
        *,
        account: str,
        region: str,
        vpc_id: str,
        subnet_id: str,
        az: str,
        ip: str,
        eni_id: str,
        ports: set[int],
        group: str,
        health_checked: bool,
    ):
        self.task = task
        self.task_arn = task["taskArn"]
        self.account, self.region = account, region
        self.vpc_id, self.subnet_id, self.az = vpc_id, subnet_id, az
        self.ip, self.eni_id, self.ports = ip, eni_id, ports
        self.group, self.cluster_arn = group, task.get("clusterArn", "")
        self.health_checked = health_checked  # an essential container declares a healthCheck
        self.body = (
            f"ok: task {self.task_arn.rsplit('/', 1)[-1]} ({group or 'standalone'}) "
            f"at {ip} ports {','.join(map(str, sorted(ports))) or '-'}\n"
        ).encode()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]

    @property
    def alive(self) -> bool:
        return self._server is not None and self._thread is not None and self._thread.is_alive()

    @property
    def loopback(self) -> int | None:
        return self._server.server_address[1] if self._server is not None else None

    def loopback_port(self, port: int) -> int | None:
        """The loopback port standing in for ``port`` on this task, or None if nothing listens."""
        return self.loopback if self.alive and int(port) in self.ports else None

    def start(self) -> None:
        if self.alive:
            return
        server = _Server(("127.0.0.1", 0), _Handler)
        server.body = self.body
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{THREAD_PREFIX}-{self.task_id[:12]}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        _set_task_health(self)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            if thread is not None and thread.is_alive():
                server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=2)
        _set_task_health(self)

    def describe(self) -> dict:
        return {
            "taskArn": self.task_arn,
            "group": self.group,
            "vpcId": self.vpc_id,
            "subnetId": self.subnet_id,
            "availabilityZone": self.az,
            "privateIp": self.ip,
            "networkInterfaceId": self.eni_id,
            "ports": sorted(self.ports),
            "loopbackPort": self.loopback,
            "alive": self.alive,
            "thread": self._thread.name if self._thread else None,
        }


def _set_task_health(r: _Responder) -> None:
    """Task healthStatus as ECS derives it: UNKNOWN without a container health check."""
    if not r.health_checked:
        r.task["healthStatus"] = "UNKNOWN"
        return
    status = "HEALTHY" if r.alive else "UNHEALTHY"
    r.task["healthStatus"] = status
    for container in r.task.get("containers", []):
        container["healthStatus"] = status


def _stop_all() -> None:
    with _lock:
        doomed = list(_responders.values())
        _responders.clear()
        _rr.clear()
    for r in doomed:
        r.stop()


# ---------------------------------------------------------------------------
# ECS: give awsvpc tasks an ENI and a responder, take both away on stop
# ---------------------------------------------------------------------------


def _subnets_of(data: dict) -> tuple[list[str], list[str], bool]:
    cfg = (data.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    subnets = [s for s in cfg.get("subnets") or [] if isinstance(s, str)]
    groups = [g for g in cfg.get("securityGroups") or [] if isinstance(g, str)]
    public = str(cfg.get("assignPublicIp", "DISABLED")).upper() == "ENABLED"
    return subnets, groups, public


def _free_ip(ec2, account: str, region: str, subnet: dict, vpc_id: str) -> str | None:
    net = ipaddress.ip_network(subnet["CidrBlock"], strict=False)
    first, last = int(net.network_address) + 4, int(net.broadcast_address) - 1  # AWS reserves 5
    if last < first:
        return None
    used = {
        e.get("PrivateIpAddress")
        for e in ec2._network_interfaces.values_scoped(account, region)
        if e.get("VpcId") == vpc_id
    }
    used |= {r.ip for r in _responders.values() if r.vpc_id == vpc_id}
    for _ in range(64):
        candidate = str(ipaddress.ip_address(first + secrets.randbelow(last - first + 1)))
        if candidate not in used:
            return candidate
    return next(
        (str(ipaddress.ip_address(i)) for i in range(first, last + 1) if str(ipaddress.ip_address(i)) not in used),
        None,
    )


def _private_dns(ip: str, region: str) -> str:
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def _provision(task: dict, data: dict) -> bool:
    """ENI + responder for one freshly started awsvpc task. False when it is not one."""
    from ministack.core.arn import parse_arn
    from ministack.services import ec2, ecs

    if task.get("_network_mode") != "awsvpc" or task.get("lastStatus") != "RUNNING":
        return False  # bridge/host tasks have no ENI; a Docker-backed task is MiniStack's own
    subnets, groups, public = _subnets_of(data)
    if not subnets:
        log.warning("awsvpc task %s has no subnets: no ENI", task["taskArn"])
        return False
    spec = parse_arn(task["taskArn"])
    account, region = spec.account_id, spec.region
    known = {s: ec2._subnets.get_scoped(account, region, s) for s in subnets}
    known = {s: rec for s, rec in known.items() if rec and rec.get("CidrBlock")}
    if not known:
        log.warning("awsvpc task %s: none of its subnets %s exists: no ENI", task["taskArn"], subnets)
        return False
    td = ecs._task_defs.get(ecs._resolve_td_key(task.get("taskDefinitionArn", ""))) or {}
    ports = {
        int(pm["containerPort"])
        for c in td.get("containerDefinitions", [])
        for pm in c.get("portMappings") or []
        if pm.get("containerPort") and str(pm.get("protocol", "tcp")).lower() == "tcp"
    }
    health_checked = any(c.get("healthCheck") and c.get("essential", True) for c in td.get("containerDefinitions", []))
    group = task.get("group", "")

    with _lock:
        # Spread like the ECS scheduler: the AZ, then the subnet, with the fewest of this group's tasks.
        siblings = [r for r in _responders.values() if r.group == group and r.cluster_arn == task.get("clusterArn")]
        order = [s for s in subnets if s in known]

        def load(s: str) -> tuple[int, int, int]:
            az = known[s].get("AvailabilityZone")
            return (
                sum(r.az == az for r in siblings),
                sum(r.subnet_id == s for r in siblings),
                order.index(s),
            )

        subnet_id = min(order, key=load)
        subnet = known[subnet_id]
        vpc_id, az = subnet.get("VpcId", ""), subnet.get("AvailabilityZone", f"{region}a")
        ip = _free_ip(ec2, account, region, subnet, vpc_id)
        if ip is None:
            log.warning("subnet %s is full: task %s gets no ENI", subnet_id, task["taskArn"])
            return False
        attachment_id = str(uuid.uuid4())
        eni_id = "eni-" + secrets.token_hex(9)[:17]
        mac = "12:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))
        eni = {
            "NetworkInterfaceId": eni_id,
            "SubnetId": subnet_id,
            "VpcId": vpc_id,
            "AvailabilityZone": az,
            "Description": f"arn:aws:ecs:{region}:{account}:attachment/{attachment_id}",
            "OwnerId": account,
            "Status": "in-use",
            "PrivateIpAddress": ip,
            "PrivateDnsName": _private_dns(ip, region),
            "InterfaceType": "interface",
            "SourceDestCheck": True,
            "MacAddress": mac,
            "RequesterManaged": True,
            "Groups": [
                {
                    "GroupId": g,
                    "GroupName": (ec2._security_groups.get_scoped(account, region, g) or {}).get("GroupName", g),
                }
                for g in groups
            ],
            "Attachment": {
                "AttachmentId": "ela-attach-" + uuid.uuid4().hex[:17],
                "DeviceIndex": 1,
                "Status": "attached",
                "AttachTime": ec2._now_ts(),
            },
        }
        if public:
            eni["Association"] = {
                "PublicIp": str(
                    ipaddress.ip_address(int(ipaddress.ip_address("198.51.100.1")) + secrets.randbelow(254))
                ),
                "IpOwnerId": "amazon",
            }
        ec2._network_interfaces.set_scoped(account, region, eni_id, eni)

        responder = _Responder(
            task,
            account=account,
            region=region,
            vpc_id=vpc_id,
            subnet_id=subnet_id,
            az=az,
            ip=ip,
            eni_id=eni_id,
            ports=ports,
            group=group,
            health_checked=health_checked,
        )
        with ecs.resource_lock("ecs-task", task["taskArn"]):
            task["_subnet"] = subnet_id
            task["_container_ip"] = ip
            task["availabilityZone"] = az
            task["attachments"] = [
                {
                    "id": attachment_id,
                    "type": "ElasticNetworkInterface",
                    "status": "ATTACHED",
                    "details": [
                        {"name": "subnetId", "value": subnet_id},
                        {"name": "networkInterfaceId", "value": eni_id},
                        {"name": "macAddress", "value": mac},
                        {"name": "privateDnsName", "value": eni["PrivateDnsName"]},
                        {"name": "privateIPv4Address", "value": ip},
                    ],
                }
            ]
            for container in task.get("containers", []):
                container["networkInterfaces"] = [{"attachmentId": attachment_id, "privateIpv4Address": ip}]
        responder.start()
        _responders[task["taskArn"]] = responder
    log.info(
        "task %s: %s %s in %s (%s), responder on 127.0.0.1:%s for ports %s",
        task["taskArn"].rsplit("/", 1)[-1],
        eni_id,
        ip,
        subnet_id,
        az,
        responder.loopback,
        sorted(ports),
    )
    return True


def _teardown(task_arn: str) -> None:
    """Stop a task's responder, delete its ENI, mark the attachment DELETED."""
    from ministack.services import ec2

    with _lock:
        r = _responders.pop(task_arn, None)
    if r is None:
        return
    r.stop()
    ec2._network_interfaces.pop_scoped(r.account, r.region, r.eni_id, None)
    for attachment in r.task.get("attachments") or []:
        if attachment.get("type") == "ElasticNetworkInterface":
            attachment["status"] = "DELETED"


def _sweep() -> None:
    """Stop responders whose task is gone or no longer RUNNING (a safety net)."""
    from ministack.services import ecs

    with _lock:
        stale = [
            arn
            for arn, r in _responders.items()
            if ecs._tasks.get_scoped(r.account, r.region, arn) is not r.task or r.task.get("lastStatus") != "RUNNING"
        ]
    for arn in stale:
        _teardown(arn)


def _wrap_ecs() -> None:
    from ministack.services import ecs

    original_run_task = ecs._run_task
    original_mark_stopped = ecs._mark_task_stopped
    original_reset = ecs.reset

    def _run_task(data):
        # Gap 1/2: a started awsvpc task gets its ENI and responder before anyone sees it,
        # so the service's target sync (which runs right after) registers its address.
        response = original_run_task(data)
        status, headers, body = response
        if status >= 400:
            return response
        payload = json.loads(body)
        changed = False
        for wire in payload.get("tasks", []):
            task = ecs._tasks.get(wire.get("taskArn"))
            if task is not None:
                try:
                    changed |= _provision(task, data)
                except Exception:
                    log.exception("data plane for task %s failed", wire.get("taskArn"))
        if not changed:
            return response
        payload["tasks"] = [ecs._sanitize(ecs._tasks.get(t["taskArn"]) or t) for t in payload["tasks"]]
        return status, headers, json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def _mark_task_stopped(task_arn, task, *args, **kwargs):
        # Gap 2: the responder and the ENI go when the task stops; MiniStack's own stop
        # path has already withdrawn the target registration by then.
        stopped = original_mark_stopped(task_arn, task, *args, **kwargs)
        if task.get("lastStatus") == "STOPPED":
            _teardown(task_arn)
        return stopped

    def reset():
        original_reset()
        _stop_all()

    # ECS never reaches for a Docker engine: with one present, MiniStack would try to pull and
    # run the task's real image (offline: a failed task), so the same suite would behave
    # differently on a machine that happens to have Docker. The responder is the container.
    ecs._get_docker = lambda: None
    ecs._run_task = _run_task
    ecs._ACTION_MAP["RunTask"] = _run_task
    ecs._mark_task_stopped = _mark_task_stopped
    ecs.reset = reset


# ---------------------------------------------------------------------------
# ELBv2: target health and forwarding reach the responders
# ---------------------------------------------------------------------------


def _responder_for(tg: dict, ip: str) -> _Responder | None:
    vpc = tg.get("VpcId") or ""
    with _lock:
        return next((r for r in _responders.values() if r.ip == ip and (not vpc or r.vpc_id == vpc)), None)


def _is_private(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False  # a host name (instance target group): MiniStack's own behaviour
    return addr.is_private and not addr.is_loopback


def _target_port(tg: dict, target: dict) -> int:
    return int(target.get("Port") or tg.get("Port") or 80)


def _matcher_accepts(matcher: str, code: int) -> bool:
    for part in (matcher or "200").split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= code <= int(high):
                return True
        elif part and int(part) == code:
            return True
    return False


def _tg_in_use(alb, tg_arn: str) -> bool:
    """Whether a listener or rule forwards to the group (MiniStack never prunes LoadBalancerArns)."""

    def names(actions):
        for a in actions or []:
            if a.get("TargetGroupArn") == tg_arn:
                return True
            groups = (a.get("ForwardConfig") or {}).get("TargetGroups") or []
            if any(isinstance(g, dict) and g.get("TargetGroupArn") == tg_arn for g in groups):
                return True
        return False

    return any(names(rule.get("Actions")) for rule in alb._rules.values()) or any(
        names(lst.get("DefaultActions")) for lst in alb._listeners.values()
    )


def _health_check(tg: dict, r: _Responder, target_port: int) -> tuple[str, str, str]:
    """(state, reason, description) from one real health check against the responder."""
    hc_port = tg.get("HealthCheckPort") or "traffic-port"
    port = target_port if hc_port == "traffic-port" else int(hc_port)
    loopback = r.loopback_port(port)
    if loopback is None:
        return "unhealthy", "Target.FailedHealthChecks", "Health checks failed"
    timeout = min(float(tg.get("HealthCheckTimeoutSeconds") or 5), MAX_PROBE_SECONDS)
    if str(tg.get("HealthCheckProtocol") or "HTTP").upper() == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", loopback, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", loopback, timeout=timeout)
    try:
        conn.request(
            "GET",
            tg.get("HealthCheckPath") or "/",
            headers={"User-Agent": "ELB-HealthChecker/2.0", "Host": f"{r.ip}:{port}"},
        )
        code = conn.getresponse().status
    except TimeoutError:
        return "unhealthy", "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException):
        return "unhealthy", "Target.FailedHealthChecks", "Health checks failed"
    finally:
        conn.close()
    matcher = (tg.get("Matcher") or {}).get("HttpCode", "200")
    if _matcher_accepts(matcher, code):
        return "healthy", "", ""
    return "unhealthy", "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]"


def _describe_target_health(params):
    """Gap 4: DescribeTargetHealth from real health checks of the task responders."""
    from ministack.services import alb

    tg_arn = alb._p(params, "TargetGroupArn")
    tg = alb._tgs.get(tg_arn)
    if tg is None:
        return alb._error("TargetGroupNotFound", f"Target group '{tg_arn}' not found.")
    registered = list(alb._targets.get(tg_arn, []))
    asked = alb._parse_targets_param(params)
    if asked:
        chosen = []
        for want in asked:
            hit = [
                t
                for t in registered
                if t["Id"] == want["Id"] and ("Port" not in want or _target_port(tg, t) == want["Port"])
            ]
            chosen += hit or [dict(want, _unregistered=True)]
        registered = chosen
    in_use = _tg_in_use(alb, tg_arn)
    members = []
    for target in registered:
        port = _target_port(tg, target)
        r = _responder_for(tg, str(target["Id"]))
        if target.get("_unregistered"):
            state = ("unused", "Target.NotRegistered", "Target is not registered to the target group")
        elif not in_use:
            state = (
                "unused",
                "Target.NotInUse",
                "Target group is not configured to receive traffic from the load balancer",
            )
        elif r is not None:
            state = _health_check(tg, r, port)
        elif _is_private(str(target["Id"])):
            state = ("unhealthy", "Target.Timeout", "Request timed out")  # nothing at that address
        else:
            state = ("healthy", "", "")  # not ours (a hand-registered host): as MiniStack says
        hc = tg.get("HealthCheckPort") or "traffic-port"
        az = f"<AvailabilityZone>{r.az}</AvailabilityZone>" if r is not None else ""
        detail = f"<Reason>{state[1]}</Reason><Description>{_esc(state[2])}</Description>" if state[1] else ""
        members.append(
            f"<member><Target><Id>{_esc(str(target['Id']))}</Id><Port>{port}</Port>{az}</Target>"
            f"<HealthCheckPort>{port if hc == 'traffic-port' else _esc(str(hc))}</HealthCheckPort>"
            f"<TargetHealth><State>{state[0]}</State>{detail}</TargetHealth></member>"
        )
    return alb._xml(
        200,
        "DescribeTargetHealth",
        f"<TargetHealthDescriptions>{''.join(members)}</TargetHealthDescriptions>",
    )


def _wrap_alb() -> None:
    from ministack.services import alb

    original_proxy = alb._proxy_http_target
    original_forward = alb._forward_to_tg

    def _refused(ip, port, why):
        return (
            502,
            {"Content-Type": "application/json"},
            json.dumps({"message": f"Target {ip}:{port} connect error: {why}"}).encode(),
        )

    async def _proxy_http_target(target, tg, method, path, headers, body, query_params, raw_query_string=None):
        # Gap 5: a task's private address is reached through its responder on loopback;
        # no packet ever goes to a 10.x address.
        ip, port = str(target.get("Id", "")), _target_port(tg, target)
        r = _responder_for(tg, ip)
        if r is None:
            if _is_private(ip):
                return _refused(ip, port, "no task answers at this address")
            return await original_proxy(target, tg, method, path, headers, body, query_params, raw_query_string)
        loopback = r.loopback_port(port)
        if loopback is None:
            return _refused(ip, port, "connection refused (the task's responder is not listening)")
        return await original_proxy(
            {"Id": "127.0.0.1", "Port": loopback},
            tg,
            method,
            path,
            headers,
            body,
            query_params,
            raw_query_string,
        )

    def _answers(tg, target) -> bool:
        r = _responder_for(tg, str(target.get("Id", "")))
        if r is not None:
            return r.loopback_port(_target_port(tg, target)) is not None
        return not _is_private(str(target.get("Id", "")))

    async def _forward_to_tg(tg_arn, method, path, headers, body, query_params, raw_query_string=None, raw_path=None):
        # Healthy targets round-robin, all of them when none is healthy (ALB fails open);
        # MiniStack picked one at random, dead or alive.
        tg = alb._tgs.get(tg_arn)
        registered = list(alb._targets.get(tg_arn, [])) if tg else []
        if not registered or tg.get("TargetType", "instance") not in ("instance", "ip"):
            return await original_forward(tg_arn, method, path, headers, body, query_params, raw_query_string, raw_path)
        pool = [t for t in registered if _answers(tg, t)] or registered
        with _lock:
            turn = next(_rr.setdefault(tg_arn, itertools.count()))
        return await alb._proxy_http_target(
            pool[turn % len(pool)],
            tg,
            method,
            raw_path or path,
            headers,
            body,
            query_params,
            raw_query_string,
        )

    alb._proxy_http_target = _proxy_http_target
    alb._forward_to_tg = _forward_to_tg
    alb._ACTION_MAP["DescribeTargetHealth"] = _describe_target_health


# ---------------------------------------------------------------------------
# EC2: DescribeNetworkInterfaces with filters, and the fields a task ENI carries
# ---------------------------------------------------------------------------


def _eni_values(eni: dict, name: str) -> list[str] | None:
    attachment = eni.get("Attachment") or {}
    association = eni.get("Association") or {}
    simple = {
        "network-interface-id": eni.get("NetworkInterfaceId"),
        "subnet-id": eni.get("SubnetId"),
        "vpc-id": eni.get("VpcId"),
        "availability-zone": eni.get("AvailabilityZone"),
        "description": eni.get("Description"),
        "status": eni.get("Status"),
        "interface-type": eni.get("InterfaceType", "interface"),
        "mac-address": eni.get("MacAddress"),
        "owner-id": eni.get("OwnerId"),
        "private-ip-address": eni.get("PrivateIpAddress"),
        "addresses.private-ip-address": eni.get("PrivateIpAddress"),
        "private-dns-name": eni.get("PrivateDnsName"),
        "requester-managed": str(bool(eni.get("RequesterManaged"))).lower(),
        "requester-id": eni.get("RequesterId"),
        "source-dest-check": str(eni.get("SourceDestCheck", True)).lower(),
        "attachment.status": attachment.get("Status"),
        "attachment.attachment-id": attachment.get("AttachmentId"),
        "attachment.instance-id": attachment.get("InstanceId"),
        "association.public-ip": association.get("PublicIp"),
    }
    if name in simple:
        return [simple[name]] if simple[name] is not None else []
    if name == "group-id":
        return [g.get("GroupId", "") for g in eni.get("Groups", [])]
    if name == "group-name":
        return [g.get("GroupName", "") for g in eni.get("Groups", [])]
    return None


def _describe_network_interfaces(p):
    """Gap 6: Filters and unknown ids, as EC2 answers them."""
    from ministack.services import ec2

    ids = ec2._parse_member_list(p, "NetworkInterfaceId")
    filters = ec2._parse_filters(p)
    for eni_id in ids:
        if eni_id not in ec2._network_interfaces:
            return ec2._error(
                "InvalidNetworkInterfaceID.NotFound",
                f"The networkInterface ID '{eni_id}' does not exist",
                400,
            )
    sample: dict[str, Any] = {"Groups": []}
    for name in filters:
        if not (name.startswith("tag:") or name in ("tag-key", "tag-value")) and _eni_values(sample, name) is None:
            return ec2._error("InvalidParameterValue", f"The filter '{name}' is invalid", 400)

    def matches(eni):
        if ids and eni["NetworkInterfaceId"] not in ids:
            return False
        if not ec2._resource_matches_tag_filters(eni["NetworkInterfaceId"], filters):
            return False
        for name, wanted in filters.items():
            values = _eni_values(eni, name)
            if values is None:
                continue  # a tag filter, handled above
            if not any(ec2._glob_match(w, v) for w in wanted for v in values):
                return False
        return True

    items = "".join(ec2._eni_fields_xml(e) for e in ec2._network_interfaces.values() if matches(e))
    return ec2._xml(200, "DescribeNetworkInterfacesResponse", f"<networkInterfaceSet>{items}</networkInterfaceSet>")


def _wrap_ec2() -> None:
    from ministack.services import ec2

    original_fields = ec2._eni_fields_xml

    def _eni_fields_xml(eni, tag="item"):
        # MiniStack renders neither the private DNS name, requesterManaged nor a public IP.
        xml = original_fields(eni, tag)
        extra = f"<requesterManaged>{'true' if eni.get('RequesterManaged') else 'false'}</requesterManaged>"
        if eni.get("PrivateDnsName"):
            extra += f"<privateDnsName>{_esc(eni['PrivateDnsName'])}</privateDnsName>"
        if eni.get("Association"):
            a = eni["Association"]
            extra += (
                f"<association><publicIp>{a['PublicIp']}</publicIp>"
                f"<ipOwnerId>{a.get('IpOwnerId', 'amazon')}</ipOwnerId></association>"
            )
        head, sep, tail = xml.rpartition(f"</{tag}>")
        return head + extra + sep + tail if sep else xml

    ec2._eni_fields_xml = _eni_fields_xml
    ec2._ACTION_MAP["DescribeNetworkInterfaces"] = _describe_network_interfaces


# ---------------------------------------------------------------------------
# Test-only control routes
# ---------------------------------------------------------------------------


def _json(status: int, payload) -> tuple:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _control(method: str, path: str):
    if path.rstrip("/") == CONTROL_PREFIX and method == "GET":
        _sweep()
        with _lock:
            listed = [r.describe() for r in _responders.values()]
        threads = sorted(t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX))
        return _json(200, {"responders": listed, "threads": threads})
    parts = path[len(CONTROL_PREFIX) :].strip("/").split("/")
    if method == "POST" and len(parts) == 3 and parts[0] == "responders" and parts[2] in ("stop", "start"):
        with _lock:
            r = next((r for r in _responders.values() if r.task_id == parts[1]), None)
        if r is None:
            return _json(404, {"message": f"no running awsvpc task {parts[1]}"})
        r.stop() if parts[2] == "stop" else r.start()
        return _json(200, r.describe())
    return _json(404, {"message": f"unknown data-plane control route {method} {path}"})


def _wrap_app() -> None:
    from ministack import app

    original = app._handle_pre_body_request

    async def _handle_pre_body_request(method, path, headers, query_params, request_id):
        if path.startswith(CONTROL_PREFIX):
            return _control(method, path)
        return await original(method, path, headers, query_params, request_id)

    app._handle_pre_body_request = _handle_pre_body_request


def install() -> None:
    global _installed
    if _installed:
        return
    _wrap_ecs()
    _wrap_alb()
    _wrap_ec2()
    _wrap_app()
    atexit.register(_stop_all)
    _installed = True
