"""Compute: ECS cluster, service, tasks and task definition, the load balancer, auto scaling, alarms."""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import urllib.parse
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from pydantic import Field

from conformance.inventory.base import Section, absent_on, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import (
    CertificateDetail,
    ContainerDefinition,
    EcrRepository,
    EcsCluster,
    EcsService,
    ImageDetail,
    ImageScan,
    Listener,
    LoadBalancer,
    MetricAlarm,
    RegistryScanning,
    RolePolicy,
    Rule,
    ScalableTarget,
    ScalingActivity,
    ScalingPolicy,
    SecretFinding,
    SslPolicy,
    TargetGroup,
    TargetHealthDescription,
    Task,
    TaskDefinition,
)
from core.aws import AwsSession
from core.outputs import StackOutputs
from core.redaction import redacted_marker

if TYPE_CHECKING:
    from types_boto3_application_autoscaling.client import ApplicationAutoScalingClient
    from types_boto3_cloudwatch.client import CloudWatchClient
    from types_boto3_ecr.client import ECRClient
    from types_boto3_ecr.type_defs import ImageIdentifierTypeDef
    from types_boto3_ecs.client import ECSClient
    from types_boto3_elbv2.client import ElasticLoadBalancingv2Client
    from types_boto3_elbv2.type_defs import LoadBalancerAttributeTypeDef
    from types_boto3_iam.client import IAMClient
    from types_boto3_iam.type_defs import AttachedPolicyTypeDef


class ComputeSection(Section):
    cluster: Annotated[EcsCluster, reads("ecs:DescribeClusters")] = Field(default_factory=nothing)
    service: Annotated[EcsService, reads("ecs:DescribeServices")] = Field(default_factory=nothing)
    # named by the service
    task_definition: Annotated[TaskDefinition, reads("ecs:DescribeTaskDefinition", "ecs:DescribeServices")] = Field(
        default_factory=nothing
    )
    tasks: Annotated[list[Task], reads("ecs:ListTasks", "ecs:DescribeTasks")] = Field(default_factory=list)
    load_balancer: Annotated[LoadBalancer, reads("elasticloadbalancing:DescribeLoadBalancers")] = Field(
        default_factory=nothing
    )
    # DescribeLoadBalancerAttributes: attribute key -> value (every attribute, as AWS answers)
    load_balancer_attributes: Annotated[
        dict[str, str], reads("elasticloadbalancing:DescribeLoadBalancerAttributes")
    ] = Field(default_factory=dict)
    # GetWebACLForResource(load balancer)'s WebACL ({} when none is associated); WAF has no published stubs
    web_acl: Annotated[dict[str, Any], reads("wafv2:GetWebACLForResource")] = Field(default_factory=dict)
    # GetLoggingConfiguration(the environment's web ACL)'s LoggingConfiguration ({} when logging is off)
    web_acl_logging: Annotated[dict[str, Any], reads("wafv2:GetLoggingConfiguration")] = Field(default_factory=dict)
    listeners: Annotated[list[Listener], reads("elasticloadbalancing:DescribeListeners")] = Field(default_factory=list)
    # every rule of every listener (DescribeRules), default rule included: listener ARN -> rules
    rules: Annotated[
        dict[str, list[Rule]], reads("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules")
    ] = Field(default_factory=dict)
    # the security policies the listeners name (DescribeSSLPolicies): policy name -> definition
    ssl_policies: Annotated[
        dict[str, SslPolicy],
        reads("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeSSLPolicies"),
    ] = Field(default_factory=dict)
    # the listeners' certificates in ACM (DescribeCertificate): certificate ARN -> detail
    certificates: Annotated[
        dict[str, CertificateDetail], reads("elasticloadbalancing:DescribeListeners", "acm:DescribeCertificate")
    ] = Field(default_factory=dict)
    # the same certificates' SHA-256 fingerprints (of the DER of GetCertificate's public body)
    certificate_sha256: Annotated[
        dict[str, str], reads("elasticloadbalancing:DescribeListeners", "acm:GetCertificate")
    ] = Field(default_factory=dict)
    target_group: Annotated[TargetGroup, reads("elasticloadbalancing:DescribeTargetGroups")] = Field(
        default_factory=nothing
    )
    target_health: Annotated[list[TargetHealthDescription], reads("elasticloadbalancing:DescribeTargetHealth")] = Field(
        default_factory=list
    )
    scalable_targets: Annotated[list[ScalableTarget], reads("application-autoscaling:DescribeScalableTargets")] = Field(
        default_factory=list
    )
    scaling_policies: Annotated[list[ScalingPolicy], reads("application-autoscaling:DescribeScalingPolicies")] = Field(
        default_factory=list
    )
    alarms: Annotated[list[MetricAlarm], reads("cloudwatch:DescribeAlarms")] = Field(default_factory=list)
    # Application Auto Scaling's most recent activities for the service (first page, newest first)
    scaling_activities: Annotated[list[ScalingActivity], reads("application-autoscaling:DescribeScalingActivities")] = (
        Field(default_factory=list)
    )
    # Plain-environment variables of the task definition that look like secrets: container,
    # name and why (never the value; the value itself is redacted in ``task_definition``).
    plaintext_secret_findings: Annotated[
        list[SecretFinding], reads("ecs:DescribeTaskDefinition", "ecs:DescribeServices")
    ] = Field(default_factory=list)
    # The task and execution roles' permission policies: role name -> [{"Kind": "inline"|"attached",
    # "PolicyName", "PolicyArn" (attached only), "Document"}]
    role_policies: Annotated[
        dict[str, list[RolePolicy]], reads("iam:GetRolePolicy", "ecs:DescribeTaskDefinition", "ecs:DescribeServices")
    ] = Field(default_factory=dict)
    # The same roles' trust policies (GetRole's AssumeRolePolicyDocument, IAM policy grammar): role name -> document
    role_trust: Annotated[
        dict[str, dict[str, Any]], reads("iam:GetRole", "ecs:DescribeTaskDefinition", "ecs:DescribeServices")
    ] = Field(default_factory=dict)
    # The custom-resource function's resource policy (lambda:GetPolicy, JSON text), "" when it has none
    function_policy: Annotated[str, reads("lambda:GetPolicy")] = ""
    # The images the task definition's containers and the running tasks name, where they are in a
    # private ECR repository of the stack's own account and region (others cannot be read here):
    # repository name -> DescribeRepositories' repository (absent: no such repository)
    image_repositories: Annotated[
        dict[str, EcrRepository],
        reads("ecr:DescribeRepositories", "ecs:DescribeTaskDefinition", "ecs:DescribeServices", "ecs:DescribeTasks"),
    ] = Field(default_factory=dict)
    # image reference as the container names it (repository:tag or repository@digest), and each
    # running digest as repository@digest -> DescribeImages' detail (absent: no such image)
    images: Annotated[
        dict[str, ImageDetail],
        reads("ecr:DescribeImages", "ecs:DescribeTaskDefinition", "ecs:DescribeServices", "ecs:DescribeTasks"),
    ] = Field(default_factory=dict)
    # repository@digest of every image above -> its latest scan (DescribeImageScanFindings; absent:
    # ECR holds no scan of it, ScanNotFoundException)
    image_scans: Annotated[
        dict[str, ImageScan],
        reads(
            "ecr:DescribeImageScanFindings", "ecr:DescribeImages", "ecs:DescribeTaskDefinition",
            "ecs:DescribeServices", "ecs:DescribeTasks",
        ),
    ] = Field(default_factory=dict)  # fmt: skip
    # the registry's scanning configuration (BASIC or ENHANCED, and its rules)
    registry_scanning: Annotated[RegistryScanning, reads("ecr:GetRegistryScanningConfiguration")] = Field(
        default_factory=nothing
    )

    @property
    def healthy_targets(self) -> list[TargetHealthDescription]:
        return [t for t in self.target_health if t.get("TargetHealth", {}).get("State") == "healthy"]

    @property
    def containers(self) -> list[ContainerDefinition]:
        return list(self.task_definition.get("containerDefinitions", []))

    @property
    def task_subnet_ids(self) -> dict[str, str]:
        """Task ARN -> the subnet of its ENI (from the task's attachments)."""
        return {t.get("taskArn", ""): _attachment_detail(t, "subnetId") for t in self.tasks}

    @property
    def task_eni_ids(self) -> dict[str, str]:
        """Task ARN -> the id of its ENI."""
        return {t.get("taskArn", ""): _attachment_detail(t, "networkInterfaceId") for t in self.tasks}


ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repository>[^:@]+)"
    r"(:(?P<tag>[^@]+))?(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


class EcrImage(NamedTuple):
    """A private ECR image reference: <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag][@digest]."""

    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None


def ecr_image(image: str) -> EcrImage | None:
    """The parts of a private ECR image reference, or None for any other image."""
    m = ECR_IMAGE.match(image)
    if m is None:
        return None
    return EcrImage(
        account=m.group("account"),
        region=m.group("region"),
        repository=m.group("repository"),
        tag=m.group("tag"),
        digest=m.group("digest"),
    )


def image_key(repository: str, *, tag: str | None = None, digest: str | None = None) -> str:
    """How the inventory names an image: repository@digest, else repository:tag."""
    return f"{repository}@{digest}" if digest else f"{repository}:{tag or 'latest'}"


def _attachment_detail(task: Task, name: str) -> str:
    for attachment in task.get("attachments", []):
        if attachment.get("type") == "ElasticNetworkInterface":
            for detail in attachment.get("details", []):
                if detail.get("name") == name:
                    return str(detail.get("value", ""))
    return ""


# ---- secret-looking plain environment variables (judged here, so no value leaves the collector)

# The template's Lambda-backed custom resource (payments-<env>-<suffix>-default-sg-restrict)
DEFAULT_SG_FUNCTION = "default-sg-restrict"
_SECRET_WORDS = {"PASSWORD", "PASSWD", "PWD", "PASS", "SECRET", "TOKEN", "KEY", "APIKEY", "CREDENTIAL",
                 "CREDENTIALS", "PRIVATEKEY", "ACCESSKEY", "AUTH"}  # fmt: skip
# a name that *refers to* a secret or key (its ARN, id, name, path) does not hold one
_REFERENCE_WORDS = {"ARN", "ID", "NAME", "ALIAS", "PATH", "FILE", "REGION", "URL_ENV"}
_CREDENTIAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a URL with a password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a GitHub or Slack token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,})")),
)


def secret_reason(name: str, value: Any) -> str:
    """Why a plain environment variable looks like a secret, or '' when it does not."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name.upper()) if w]
    if words and words[-1] not in _REFERENCE_WORDS:
        hits = [w for w in words if w in _SECRET_WORDS or any(w.endswith(s) for s in ("PASSWORD", "SECRET", "TOKEN"))]
        if hits:
            return f"its name contains {hits[0]}"
    text = str(value or "")
    if kind := credential_kind(text):
        return f"its value looks like {kind}"
    if (
        len(text) >= 24
        and not re.search(r"\s", text)
        and not text.startswith("arn:")
        and re.search(r"[A-Z]", text)
        and re.search(r"[a-z]", text)
        and re.search(r"[0-9]", text)
        and re.search(r"[^A-Za-z0-9./:_-]", text)
    ):
        return "its value looks like a generated password (long, every character class)"
    return ""


def credential_kind(text: str) -> str:
    """What credential a text contains (an access key id, a private key, ...), or ''."""
    for what, pattern in _CREDENTIAL_PATTERNS:
        if pattern.search(text):
            return what
    return ""


def redact_environment(task_definition: TaskDefinition) -> list[SecretFinding]:
    """Find secret-looking plain variables; replace their values in place; return the findings."""
    findings: list[SecretFinding] = []
    for container in task_definition.get("containerDefinitions", []):
        for variable in container.get("environment", []) or []:
            reason = secret_reason(str(variable.get("name", "")), variable.get("value"))
            if reason:
                findings.append({"container": container.get("name", ""), "name": variable.get("name", ""),
                                 "reason": reason})  # fmt: skip
                variable["value"] = redacted_marker(variable.get("value"))
    return findings


def collect_compute(aws: AwsSession, outputs: StackOutputs, account: str = "") -> ComputeSection:
    ecs: ECSClient = aws.client("ecs")
    ecr: ECRClient = aws.client("ecr")
    elb: ElasticLoadBalancingv2Client = aws.client("elbv2")
    waf: Any = aws.client("wafv2")  # no published stubs for WAFv2
    aas: ApplicationAutoScalingClient = aws.client("application-autoscaling")
    cw: CloudWatchClient = aws.client("cloudwatch")
    iam: IAMClient = aws.client("iam")
    lambda_: Any = aws.client("lambda")
    acm: Any = aws.client("acm")
    s = ComputeSection()
    cluster, service_name = outputs.ECSClusterName, outputs.ECSServiceName
    resource_id = f"service/{cluster}/{service_name.rsplit('/', 1)[-1]}"
    prefix = f"payments-{outputs.EnvironmentName}-{outputs.EnvironmentSuffix}-"

    def cluster_part() -> None:
        clusters: list[EcsCluster] = attempt(
            s, "ecs:DescribeClusters",
            lambda: ecs.describe_clusters(clusters=[cluster], include=["SETTINGS", "TAGS"])["clusters"], [],
        )  # fmt: skip
        s.cluster = clusters[0] if clusters else {}

    def service_part() -> None:
        # the one chain of the section: service -> its task definition -> the roles that names
        services: list[EcsService] = attempt(
            s, "ecs:DescribeServices",
            lambda: ecs.describe_services(cluster=cluster, services=[service_name], include=["TAGS"])["services"],
            [],
        )  # fmt: skip
        s.service = services[0] if services else {}
        if s.service.get("taskDefinition"):
            td: dict[str, Any] = attempt(
                s, "ecs:DescribeTaskDefinition",
                lambda: dict(
                    ecs.describe_task_definition(taskDefinition=s.service["taskDefinition"], include=["TAGS"])
                ),
                {},
            )  # fmt: skip
            s.task_definition = td.get("taskDefinition", {})
            s.plaintext_secret_findings = redact_environment(s.task_definition)
            iam_part()

    def tasks_part() -> None:
        arns: list[str] = attempt(
            s, "ecs:ListTasks",
            lambda: paginate(ecs, "list_tasks", "taskArns", cluster=cluster, serviceName=service_name), [],
        )  # fmt: skip
        if arns:
            s.tasks = attempt(
                s,
                "ecs:DescribeTasks",
                lambda: ecs.describe_tasks(cluster=cluster, tasks=arns[:100], include=["TAGS"])["tasks"],
                [],
            )

    def iam_part() -> None:
        roles = sorted(
            {
                str(arn).rsplit("/", 1)[-1]
                for arn in (s.task_definition.get("taskRoleArn"), s.task_definition.get("executionRoleArn"))
                if arn
            }
        )
        found = concurrently(
            *[partial(attempt, s, "iam:GetRolePolicy", partial(_role_policies, iam, role), []) for role in roles],
            *[partial(attempt, s, "iam:GetRole", partial(_trust_policy, iam, role), {}) for role in roles],
        )
        s.role_policies = dict(zip(roles, found[: len(roles)], strict=True))
        s.role_trust = dict(zip(roles, found[len(roles) :], strict=True))

    def load_balancer() -> None:
        lbs: list[LoadBalancer] = attempt(
            s, "elasticloadbalancing:DescribeLoadBalancers",
            lambda: elb.describe_load_balancers(LoadBalancerArns=[outputs.LoadBalancerArn])["LoadBalancers"], [],
        )  # fmt: skip
        s.load_balancer = lbs[0] if lbs else {}

    def load_balancer_attributes() -> None:
        attributes: list[LoadBalancerAttributeTypeDef] = attempt(
            s, "elasticloadbalancing:DescribeLoadBalancerAttributes",
            lambda: elb.describe_load_balancer_attributes(LoadBalancerArn=outputs.LoadBalancerArn)["Attributes"], [],
        )  # fmt: skip
        s.load_balancer_attributes = {str(a.get("Key", "")): str(a.get("Value", "")) for a in attributes}

    def web_acl() -> None:
        s.web_acl = attempt(
            s, "wafv2:GetWebACLForResource",
            lambda: absent_on(
                ("WAFNonexistentItemException",),
                lambda: waf.get_web_acl_for_resource(ResourceArn=outputs.LoadBalancerArn).get("WebACL") or {}, {},
            ), {},
        )  # fmt: skip

    def web_acl_logging() -> None:
        s.web_acl_logging = attempt(
            s, "wafv2:GetLoggingConfiguration",
            lambda: absent_on(
                ("WAFNonexistentItemException",),
                lambda: waf.get_logging_configuration(ResourceArn=outputs.WebACLArn).get("LoggingConfiguration") or {},
                {},
            ), {},
        )  # fmt: skip

    def listeners() -> None:
        s.listeners = attempt(
            s, "elasticloadbalancing:DescribeListeners",
            lambda: paginate(elb, "describe_listeners", "Listeners", LoadBalancerArn=outputs.LoadBalancerArn), [],
        )  # fmt: skip
        arns = [str(lst.get("ListenerArn")) for lst in s.listeners if lst.get("ListenerArn")]
        policies = sorted({str(lst.get("SslPolicy")) for lst in s.listeners if lst.get("SslPolicy")})
        certs = sorted(
            {
                str(c.get("CertificateArn"))
                for lst in s.listeners
                for c in lst.get("Certificates", [])
                if c.get("CertificateArn")
            }
        )

        def policies_read() -> list[SslPolicy]:
            return list(elb.describe_ssl_policies(Names=policies)["SslPolicies"]) if policies else []

        no_policy: list[SslPolicy] = []
        found = concurrently(
            *[partial(attempt, s, "elasticloadbalancing:DescribeRules",
                      partial(paginate, elb, "describe_rules", "Rules", ListenerArn=arn), []) for arn in arns],
            partial(attempt, s, "elasticloadbalancing:DescribeSSLPolicies", policies_read, no_policy),
            *[partial(attempt, s, "acm:DescribeCertificate",
                      partial(lambda a: acm.describe_certificate(CertificateArn=a)["Certificate"], arn), {})
              for arn in certs],
            *[partial(attempt, s, "acm:GetCertificate", partial(_certificate_sha256, acm, arn), "") for arn in certs],
        )  # fmt: skip
        s.rules = dict(zip(arns, found[: len(arns)], strict=True))
        s.ssl_policies = {str(p.get("Name")): p for p in found[len(arns)]}
        details = found[len(arns) + 1 : len(arns) + 1 + len(certs)]
        s.certificates = {arn: d for arn, d in zip(certs, details, strict=True) if d}
        s.certificate_sha256 = {arn: f for arn, f in zip(certs, found[len(arns) + 1 + len(certs) :], strict=True) if f}

    def target_group() -> None:
        tgs: list[TargetGroup] = attempt(
            s, "elasticloadbalancing:DescribeTargetGroups",
            lambda: elb.describe_target_groups(TargetGroupArns=[outputs.TargetGroupArn])["TargetGroups"], [],
        )  # fmt: skip
        s.target_group = tgs[0] if tgs else {}

    def target_health() -> None:
        s.target_health = attempt(
            s, "elasticloadbalancing:DescribeTargetHealth",
            lambda: elb.describe_target_health(TargetGroupArn=outputs.TargetGroupArn)["TargetHealthDescriptions"],
            [],
        )  # fmt: skip

    def scalable_targets() -> None:
        s.scalable_targets = attempt(
            s, "application-autoscaling:DescribeScalableTargets",
            lambda: paginate(
                aas, "describe_scalable_targets", "ScalableTargets", ServiceNamespace="ecs", ResourceIds=[resource_id]
            ),
            [],
        )  # fmt: skip

    def scaling_policies() -> None:
        s.scaling_policies = attempt(
            s, "application-autoscaling:DescribeScalingPolicies",
            lambda: paginate(
                aas, "describe_scaling_policies", "ScalingPolicies", ServiceNamespace="ecs", ResourceId=resource_id
            ),
            [],
        )  # fmt: skip

    def scaling_activities() -> None:
        s.scaling_activities = attempt(
            s, "application-autoscaling:DescribeScalingActivities",
            lambda: aas.describe_scaling_activities(
                ServiceNamespace="ecs", ResourceId=resource_id, ScalableDimension="ecs:service:DesiredCount",
                MaxResults=50,
            )["ScalingActivities"],
            [],
        )  # fmt: skip

    def alarms_part() -> None:
        s.alarms = attempt(
            s, "cloudwatch:DescribeAlarms",
            lambda: paginate(cw, "describe_alarms", "MetricAlarms", AlarmNamePrefix=prefix), [],
        )  # fmt: skip

    def function_policy() -> None:
        # who may invoke the function that revokes (and, on a Delete event, restores) the default group's rules
        s.function_policy = attempt(
            s, "lambda:GetPolicy",
            lambda: absent_on(
                ("ResourceNotFoundException",),
                lambda: str(lambda_.get_policy(FunctionName=f"{prefix}{DEFAULT_SG_FUNCTION}")["Policy"]), "",
            ),
            "",
        )  # fmt: skip

    def images_part() -> None:
        """The images the task definition and the running tasks name, where this account can read them."""
        named = [str(c.get("image", "")) for c in s.containers] + [
            str(c.get("image", "")) for t in s.tasks for c in t.get("containers", [])
        ]
        wanted: dict[str, tuple[str, ImageIdentifierTypeDef]] = {}
        for image in named:
            m = ecr_image(image)
            if m and m.account == account and m.region == aws.region:
                ident: ImageIdentifierTypeDef = (
                    {"imageDigest": m.digest} if m.digest else {"imageTag": m.tag or "latest"}
                )
                wanted[image_key(m.repository, tag=m.tag, digest=m.digest)] = (m.repository, ident)
        for t in s.tasks:
            for c in t.get("containers", []):
                m = ecr_image(str(c.get("image", "")))
                if m and c.get("imageDigest") and m.account == account and m.region == aws.region:
                    digest = str(c["imageDigest"])
                    wanted[image_key(m.repository, digest=digest)] = (m.repository, {"imageDigest": digest})
        repositories = sorted({repo for repo, _ in wanted.values()})

        def repository(name: str) -> EcrRepository | None:
            return absent_on(
                ("RepositoryNotFoundException",),
                lambda: ecr.describe_repositories(repositoryNames=[name])["repositories"][0],
                None,
            )

        def detail(repo: str, ident: ImageIdentifierTypeDef) -> ImageDetail | None:
            return absent_on(
                ("ImageNotFoundException", "RepositoryNotFoundException"),
                lambda: ecr.describe_images(repositoryName=repo, imageIds=[ident])["imageDetails"][0],
                None,
            )

        def registry() -> RegistryScanning:
            return ecr.get_registry_scanning_configuration().get("scanningConfiguration") or {}

        keys = list(wanted)
        no_scan_config: RegistryScanning = {}
        found = concurrently(
            partial(attempt, s, "ecr:GetRegistryScanningConfiguration", registry, no_scan_config),
            *[partial(attempt, s, "ecr:DescribeRepositories", partial(repository, r), None) for r in repositories],
            *[partial(attempt, s, "ecr:DescribeImages", partial(detail, *wanted[k]), None) for k in keys],
        )
        s.registry_scanning = found[0]
        s.image_repositories = {r: v for r, v in zip(repositories, found[1 : 1 + len(repositories)], strict=True) if v}
        details = found[1 + len(repositories) :]
        s.images = {k: v for k, v in zip(keys, details, strict=True) if v}
        digests = sorted(
            {image_key(str(d.get("repositoryName")), digest=str(d.get("imageDigest"))) for d in s.images.values()}
        )

        def scan(key: str) -> ImageScan | None:
            repo, digest = key.split("@", 1)

            def read() -> ImageScan:
                answer = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest})
                return {"imageScanStatus": answer.get("imageScanStatus", {}),
                        "imageScanFindings": answer.get("imageScanFindings", {})}  # fmt: skip

            return absent_on(("ScanNotFoundException", "ImageNotFoundException"), read, None)

        scans = concurrently(
            *[partial(attempt, s, "ecr:DescribeImageScanFindings", partial(scan, k), None) for k in digests]
        )
        s.image_scans = {k: v for k, v in zip(digests, scans, strict=True) if v}

    # every read that the outputs name starts at once; only the service's chain waits on itself
    concurrently(
        cluster_part, service_part, tasks_part, load_balancer, load_balancer_attributes, web_acl, web_acl_logging,
        listeners, target_group,
        target_health, scalable_targets, scaling_policies, scaling_activities, alarms_part, function_policy,
    )  # fmt: skip
    images_part()  # the images the task definition and the tasks name: once both are read
    return s


def _certificate_sha256(acm: Any, arn: str) -> str:
    """SHA-256 of the certificate's DER, as a TLS client sees it (GetCertificate returns the public PEM)."""
    pem = str(acm.get_certificate(CertificateArn=arn)["Certificate"])
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def _role_policies(iam: IAMClient, role: str) -> list[RolePolicy]:
    """The role's inline and attached policies with their documents (2 + 1 per inline + 2 per attached calls).

    The two lists are read at once, then every document at once: three calls deep, whatever the count.
    """
    inline_names, attached = concurrently(
        lambda: paginate(iam, "list_role_policies", "PolicyNames", RoleName=role),
        lambda: paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role),
    )

    def inline(name: str) -> RolePolicy:
        doc = _document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
        return {"Kind": "inline", "PolicyName": name, "Document": doc}

    def managed(policy: AttachedPolicyTypeDef) -> RolePolicy:
        arn = policy["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc = _document(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
        return {"Kind": "attached", "PolicyName": policy.get("PolicyName", ""), "PolicyArn": arn, "Document": doc}

    return concurrently(*[partial(inline, n) for n in inline_names], *[partial(managed, p) for p in attached])


def _trust_policy(iam: IAMClient, role: str) -> dict[str, Any]:
    """Who may assume the role: its trust policy, a resource-based policy like a key's or a bucket's."""
    return _document(iam.get_role(RoleName=role)["Role"].get("AssumeRolePolicyDocument") or {})


def _document(doc: Any) -> dict[str, Any]:
    """IAM answers policy documents URL-encoded; boto3 usually decodes them, not always."""
    if isinstance(doc, str):
        return dict(json.loads(urllib.parse.unquote(doc)))
    return dict(doc)
