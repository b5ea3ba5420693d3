"""Service Quotas: GetServiceQuota / GetAWSDefaultServiceQuota / ListServiceQuotas, and EC2's Elastic IP limit.

Gap in MiniStack 1.5.33: it does not serve Service Quotas at all (a ``service-quotas`` call
falls through to its S3 fallback), and ``AllocateAddress`` never runs out. On AWS an account
has 5 "EC2-VPC Elastic IPs" per region by default (quota code L-0263D0A3) and an allocation
past the quota fails with ``AddressLimitExceeded``. This serves the quotas the deployer's
preflight reads, per region (the region of the request's signature), and makes
``AllocateAddress`` refuse past the EIP quota as AWS does. Elastic IPs are already per region
in MiniStack (an ``AccountRegionScopedDict``).

``GetAWSDefaultServiceQuota`` answers AWS's default (5). ``GetServiceQuota`` answers the
account's applied value, and the emulator's one account (000000000000) stands in for the
three environments' accounts of the offline rehearsal (dev, staging and prod deployed side by
side in us-east-1, 3 EIPs each): its applied EIP quota is 3 x 5 = 15 per region, as if each
environment had AWS's default in an account of its own. With 5, the rehearsal's third stack
would not fit, which real AWS would not see.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger("faithful.servicequotas")

TARGET_PREFIX = "ServiceQuotasV20190624"
# (ServiceCode, QuotaCode) -> (QuotaName, AWS's default value)
DEFAULTS: dict[tuple[str, str], tuple[str, float]] = {
    ("ec2", "L-0263D0A3"): ("EC2-VPC Elastic IPs", 5.0),
    ("vpc", "L-FE5A380F"): ("NAT gateways per Availability Zone", 5.0),
}
# the emulated account's applied values: three environments' default quotas (see above)
ENVIRONMENTS_SHARING_THE_ACCOUNT = 3
APPLIED = {key: value * ENVIRONMENTS_SHARING_THE_ACCOUNT for key, (_, value) in DEFAULTS.items()}


def quota_value(region: str, service_code: str, quota_code: str) -> float | None:
    return APPLIED.get((service_code, quota_code))


def _quota(account: str, region: str, service_code: str, quota_code: str, *, default: bool) -> dict:
    name, value = DEFAULTS[(service_code, quota_code)]
    if not default:
        value = APPLIED[(service_code, quota_code)]
    return {
        "ServiceCode": service_code,
        "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)" if service_code == "ec2" else "Amazon VPC",
        "QuotaArn": f"arn:aws:servicequotas:{region}:{'' if default else account}:{service_code}/{quota_code}",
        "QuotaCode": quota_code,
        "QuotaName": name,
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def _reply(status: int, doc: dict) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(doc).encode()


def install() -> None:
    from ministack import app
    from ministack.core import router
    from ministack.core.responses import get_account_id, get_region
    from ministack.services import ec2

    async def handle_request(method, path, headers, body, query_params):
        action = headers.get("x-amz-target", "").rpartition(".")[2]
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _reply(400, {"__type": "ValidationException", "message": "malformed JSON body"})
        region = router.extract_region(headers) or "us-east-1"
        if action == "ListServiceQuotas":  # the quotas served here of one service, in one page
            code = request.get("ServiceCode", "")
            quotas = [_quota(get_account_id(), region, *key, default=False) for key in DEFAULTS if key[0] == code]
            return _reply(200, {"Quotas": quotas})
        if action not in ("GetServiceQuota", "GetAWSDefaultServiceQuota"):
            return _reply(400, {"__type": "UnknownOperationException", "message": f"{action} is not emulated"})
        key = (request.get("ServiceCode", ""), request.get("QuotaCode", ""))
        if key not in DEFAULTS:
            return _reply(
                400, {"__type": "NoSuchResourceException", "message": f"quota {key[1]} of {key[0]} not found"}
            )
        quota = _quota(get_account_id(), region, *key, default=action == "GetAWSDefaultServiceQuota")
        return _reply(200, {"Quota": quota})

    router.SERVICE_PATTERNS["servicequotas"] = {"target_prefixes": [TARGET_PREFIX]}
    app.SERVICE_HANDLERS["servicequotas"] = handle_request

    original = ec2._ACTION_MAP["AllocateAddress"]

    def allocate_address(params):
        limit = quota_value(get_region(), "ec2", "L-0263D0A3") or 5
        in_use = sum(1 for _ in ec2._addresses.values())
        if in_use >= limit:
            return ec2._error("AddressLimitExceeded", "The maximum number of addresses has been reached.", 400)
        return original(params)

    ec2._ACTION_MAP["AllocateAddress"] = allocate_address
    log.info("service quotas installed")
