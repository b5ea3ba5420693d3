"""Account scopes: the (account, region) pairs the environments live in, and their baseline stack.

Account-level controls (CloudTrail, GuardDuty, Security Hub, root credentials, IAM Access
Analyzer, AWS Config) exist once per account and region, however many environments share them. A
scope is the environments whose files name the same account (``account_id``, or the same
``profile``'s credentials when it is null) and the same region; the account suite runs once per
scope, and the account baseline (``deploy/account-baseline.yaml``) is one stack per scope. The
account's one multi-region trail lives in the baseline of its home region (the account's first
scope) and records the S3 data events of every transaction bucket of the account, in every region.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.spec import REPO_ROOT, EnvironmentSpec

ACCOUNT_TEMPLATE_PATH = REPO_ROOT / "deploy" / "account-baseline.yaml"
ACCOUNT_STACK = "payments-account-baseline"
# the names the baseline template gives its account-wide resources
TRAIL_NAME = "payments-account-trail"
ANALYZER_NAME = "payments-account-analyzer"
CONFIG_RECORDER_NAME = "payments-account-recorder"
CONFIG_CHANNEL_NAME = "payments-account-channel"


def trail_bucket_name(account: str, region: str) -> str:
    """The bucket the baseline's trail delivers to (deploy/account-baseline.yaml)."""
    return f"payments-account-trail-{account}-{region}"


def trail_access_log_bucket_name(account: str, region: str) -> str:
    """The bucket the trail bucket's server access logs go to (deploy/account-baseline.yaml, CIS 3.4)."""
    return f"payments-account-trail-access-{account}-{region}"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def transaction_bucket_prefix(spec: EnvironmentSpec) -> str:
    """The start of the name deploy/template.yaml gives the environment's transaction bucket
    (payments-<env>-<suffix>-txlogs-<stack id part>)."""
    return f"payments-{spec.tier}-{spec.suffix}-txlogs-"


@dataclass(frozen=True)
class AccountScope:
    key: str  # the scope's id in test ids, file names and the report: <region>, <account id>-<region>
    region: str
    account_id: str | None  # from the environment files; None: the credentials' account
    profile: str | None
    environments: tuple[str, ...]
    bucket_prefixes: tuple[str, ...]  # each environment's transaction bucket name prefix
    # the account's transaction bucket prefixes in every region (the multi-region trail records them
    # all: the union of the scopes of the same account); empty: this scope's own
    account_bucket_prefixes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"account {self.account_id or '(from the credentials)'} in {self.region}"

    def data_event_arn_prefixes(self) -> list[str]:
        """The resources.ARN prefixes of the baseline trail's S3 data events (template parameter): every
        transaction bucket of the account, whatever its region, since the one trail records them all."""
        partition = partition_of(self.region)
        prefixes = dict.fromkeys((*self.account_bucket_prefixes, *self.bucket_prefixes))
        return [f"arn:{partition}:s3:::{prefix}" for prefix in prefixes]

    def template_parameters(self, owner: str = "platform-team") -> list[dict[str, str]]:
        return [
            {
                "ParameterKey": "TransactionBucketArnPrefixes",
                "ParameterValue": ",".join(self.data_event_arn_prefixes()),
            },
            {"ParameterKey": "Owner", "ParameterValue": owner},
        ]


def account_scopes(specs: dict[str, EnvironmentSpec]) -> dict[str, AccountScope]:
    """The scopes of these environments, in the environments' order: one per account and region (an
    account's first scope is its home region, the one whose baseline holds the trail)."""
    grouped: dict[tuple[str | None, str | None, str], list[EnvironmentSpec]] = {}
    per_account: dict[tuple[str | None, str | None], list[str]] = {}
    for spec in specs.values():
        owner = (spec.account_id, None if spec.account_id else spec.profile, spec.region)
        grouped.setdefault(owner, []).append(spec)
        per_account.setdefault(owner[:2], []).append(transaction_bucket_prefix(spec))
    scopes: dict[str, AccountScope] = {}
    for (account_id, profile, region), members in grouped.items():
        who = account_id or (f"profile-{profile}" if profile else "")
        key = f"{who}-{region}" if who else region
        scopes[key] = AccountScope(
            key=key,
            region=region,
            account_id=account_id,
            profile=members[0].profile,
            environments=tuple(s.name for s in members),
            bucket_prefixes=tuple(dict.fromkeys(transaction_bucket_prefix(s) for s in members)),
            account_bucket_prefixes=tuple(dict.fromkeys(per_account[(account_id, profile)])),
        )
    return scopes


def is_home(scopes: dict[str, AccountScope], key: str) -> bool:
    """Whether the scope is its account's first (the home region of the account's trail) among these."""
    scope = scopes[key]
    for other in scopes.values():
        if (other.account_id, other.profile if not other.account_id else None) == (
            scope.account_id,
            scope.profile if not scope.account_id else None,
        ):
            return other.key == key
    return True
