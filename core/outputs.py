"""The stack's outputs as one typed object, handed by the deployer to the suites."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from core.errors import DeploymentFailed


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


IdList = Annotated[list[str], BeforeValidator(_split)]

OUTPUT_KEYS: tuple[str, ...] = (
    "VPCId", "VpcCidr", "PublicSubnetIds", "PrivateSubnetIds", "AuroraClusterIdentifier",
    "AuroraClusterEndpoint", "AuroraReaderEndpoint", "DBSecretArn", "LoadBalancerDNS",
    "LoadBalancerArn", "TargetGroupArn", "ECSClusterName", "ECSServiceName",
    "TransactionLogsBucket", "AccessLogsBucket", "WebACLArn", "KMSKeyArn", "AlarmTopicArn", "EnvironmentName",
    "EnvironmentSuffix",
)  # fmt: skip


class StackOutputs(BaseModel):
    """Outputs of one deployed environment; field names are the template's output keys."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    VPCId: str
    VpcCidr: str
    PublicSubnetIds: IdList
    PrivateSubnetIds: IdList
    AuroraClusterIdentifier: str
    AuroraClusterEndpoint: str
    AuroraReaderEndpoint: str
    DBSecretArn: str
    LoadBalancerDNS: str
    LoadBalancerArn: str
    TargetGroupArn: str
    ECSClusterName: str
    ECSServiceName: str
    TransactionLogsBucket: str
    AccessLogsBucket: str
    WebACLArn: str
    KMSKeyArn: str
    AlarmTopicArn: str
    EnvironmentName: str
    EnvironmentSuffix: str

    @classmethod
    def from_stack(cls, stack_name: str, outputs: list[dict[str, str]]) -> StackOutputs:
        values = {o["OutputKey"]: o.get("OutputValue", "") for o in outputs}
        missing = [k for k in OUTPUT_KEYS if not values.get(k)]
        if missing:
            raise DeploymentFailed(
                f"stack {stack_name} lacks the contract's outputs {', '.join(missing)}; "
                "deploy the current deploy/template.yaml."
            )
        try:
            return cls.model_validate(values)
        except ValidationError as exc:  # pragma: no cover - all fields are strings
            raise DeploymentFailed(f"stack {stack_name} has malformed outputs: {exc}") from None
