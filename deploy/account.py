"""The account baseline's deployer: one stack per account and region (deploy/account-baseline.yaml).

The environments' deployer (``deploy.deployer.Deployer``) with the baseline's template, name,
parameters and protections; its change sets, poller, failure listing and teardown rules are
the same. Protections (docs/lifecycle.md, "The account baseline"):

* On AWS the stack gets termination protection when it is created and whenever it is updated
  (as prod does): ``down`` then refuses, and the suite never turns it off. The trail, the
  detector, the hub and the analyzer are deleted only by someone who turns it off by hand, in a
  sandbox account. On an emulator the rehearsal's baseline has none.
* ``down`` deletes only a stack this suite created (its creator tag); the trail's bucket and
  its key are retained (log files are audit evidence) and released only when empty.
* Before a create, a preflight refuses (exit 4, nothing created) when the account already has a
  GuardDuty detector or a Security Hub in the region: AWS allows one of each, so the stack would
  fail half-way; the sentence names what exists and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import botocore.exceptions

from core.account import (
    ACCOUNT_STACK,
    ACCOUNT_TEMPLATE_PATH,
    TRAIL_NAME,
    AccountScope,
    trail_access_log_bucket_name,
    trail_bucket_name,
)
from core.aws import AwsSession, error_code
from core.errors import RefusedError, StackStateError
from core.spec import EnvironmentSpec
from deploy.deployer import ATTACHABLE, TEMPLATE_HASH_TAG, UPDATABLE, Deployer, Printer, StackState
from deploy.tags import CREATOR_TAG, CREATOR_VALUE, RUN_ID_TAG


class AccountDeployer(Deployer):
    """Create, update, inspect and delete the account baseline of one account and region."""

    def __init__(
        self,
        scope: AccountScope,
        member: EnvironmentSpec,
        aws: AwsSession,
        *,
        run_id: str | None = None,
        out: Printer = print,
        template_path: Path = ACCOUNT_TEMPLATE_PATH,
        owner: str | None = None,
        stop_when: Callable[[], bool] | None = None,
    ) -> None:
        # ``member``: an environment of the scope (its spec is only read for its owner tag)
        super().__init__(member, aws, run_id=run_id, out=out, template_path=template_path, stop_when=stop_when)
        self.scope = scope
        self.owner = owner or member.parameters.Owner
        self._with_trail: str | None = None
        self.home_trail: dict[str, str] = {}  # the account's trail when it lives in another region

    @property
    def stack_name(self) -> str:
        return ACCOUNT_STACK

    @property
    def label(self) -> str:
        return "account"

    def command(self, verb: str) -> str:
        return f"python -m deploy account {verb}"

    def template_parameters(self) -> list[dict[str, str]]:
        with_trail = self.with_trail
        return [
            *self.scope.template_parameters(self.owner),
            {"ParameterKey": "WithTrail", "ParameterValue": with_trail},
            # this region's AWS Config delivers to the home region's trail bucket, with its key
            {"ParameterKey": "HomeTrailBucketName", "ParameterValue": self.home_trail.get("S3BucketName", "")},
            {"ParameterKey": "HomeTrailKeyArn", "ParameterValue": self.home_trail.get("KmsKeyId", "")},
        ]

    @property
    def with_trail(self) -> str:
        """ "true" unless the account's multi-region trail already lives in another region (its home): one trail
        records every region, so a second region's baseline adds none (template parameter WithTrail)."""
        if self._with_trail is None:
            trails = self.aws.client("cloudtrail").describe_trails(trailNameList=[TRAIL_NAME], includeShadowTrails=True)
            mine = [t for t in trails.get("trailList", []) if t.get("Name") == TRAIL_NAME]
            elsewhere = sorted(
                (t for t in mine if t.get("HomeRegion") and t.get("HomeRegion") != self.aws.region),
                key=lambda t: str(t.get("HomeRegion")),
            )
            self._with_trail = "false" if elsewhere else "true"
            if elsewhere:
                home = elsewhere[0]
                self.home_trail = {k: str(home.get(k) or "") for k in ("HomeRegion", "S3BucketName", "KmsKeyId")}
                if not self.home_trail["S3BucketName"] or not self.home_trail["KmsKeyId"]:
                    raise StackStateError(
                        f"the account trail {TRAIL_NAME} in {self.home_trail['HomeRegion']} names no "
                        f"{'S3 bucket' if not self.home_trail['S3BucketName'] else 'KMS key'}, so this region's "
                        f"AWS Config has nowhere to deliver; run `python -m deploy account up --region "
                        f"{self.home_trail['HomeRegion']}` first, then again here."
                    )
                self.out(
                    f"{ACCOUNT_STACK}: the account trail {TRAIL_NAME} lives in {home['HomeRegion']} and records every "
                    f"region; this baseline adds no trail of its own, and its AWS Config delivers to "
                    f"{self.home_trail['S3BucketName']}"
                )
        return self._with_trail

    def home_deployer(self) -> AccountDeployer | None:
        """The home region's baseline deployer when the account's trail lives in another region and does not
        record the S3 data events of every transaction bucket of the account (a region added since): its
        update (``apply``) widens the trail's selectors. None when nothing is to be done."""
        if self.with_trail == "true":
            return None
        home = self.home_trail["HomeRegion"]
        session = AwsSession(region=home, endpoint_url=self.aws.endpoint_url, profile=self.aws.profile)
        cfn = session.client("cloudformation")
        try:
            stacks = cfn.describe_stacks(StackName=ACCOUNT_STACK).get("Stacks", [])
        except botocore.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None  # a trail this suite's baseline does not hold: not ours to change
            raise
        given = {p.get("ParameterKey"): p.get("ParameterValue", "") for p in (stacks[0].get("Parameters") or [])}
        recorded = set(filter(None, str(given.get("TransactionBucketArnPrefixes", "")).split(",")))
        home_scope = replace(self.scope, region=home)
        wanted = home_scope.data_event_arn_prefixes()
        if set(wanted) <= recorded:
            return None
        missing = ", ".join(p for p in wanted if p not in recorded)
        self.out(
            f"{ACCOUNT_STACK}: the account trail in {home} does not yet record the data events of {missing}; "
            f"updating the baseline there"
        )
        return AccountDeployer(
            home_scope, self.spec, session, run_id=self.run_id, out=self.out, template_path=self.template_path,
            owner=self.owner, stop_when=self._stop_when,
        )  # fmt: skip

    @property
    def wants_termination_protection(self) -> bool:
        return not self.aws.is_emulated

    @property
    def never_deleted(self) -> bool:
        return False  # termination protection (on AWS) is what keeps it: down refuses while it is on

    def tags(self) -> list[dict[str, str]]:
        from core.template import template_sha256

        tags = {
            "Application": "payments",
            "Owner": self.owner,
            "ManagedBy": "cloudformation",
            CREATOR_TAG: CREATOR_VALUE,
            RUN_ID_TAG: self.run_id,
            TEMPLATE_HASH_TAG: template_sha256(self.template_path)[:16],
        }
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def preflight(self) -> None:
        """Before a create: one GuardDuty detector, one Security Hub and one AWS Config recorder per account
        and region, and no trail bucket or trail access log bucket left
        by an earlier baseline (retained with its log files: CloudFormation would refuse the stack at
        validation, without naming it)."""
        account = self.aws.check_credentials()
        for what, bucket in (
            ("trail bucket", trail_bucket_name(account, self.aws.region)),
            ("trail access log bucket", trail_access_log_bucket_name(account, self.aws.region)),
        ):
            if self.with_trail == "true" and self._bucket_exists(bucket):
                raise RefusedError(
                    f"the {what} {bucket} already exists (an earlier baseline retained it with its log files, "
                    f"which are audit evidence), so {ACCOUNT_STACK} cannot create it; keep the files elsewhere, "
                    "then empty and delete the bucket, and run again."
                )
        recorders = self.aws.client("config").describe_configuration_recorders().get("ConfigurationRecorders", [])
        if recorders:
            raise RefusedError(
                f"the account already has the AWS Config recorder {recorders[0].get('name')} in {self.aws.region} "
                f"and AWS allows one per region, so {ACCOUNT_STACK} cannot create its own; delete that recorder "
                "or import it into the stack, then run again."
            )
        guardduty = self.aws.client("guardduty")
        detectors = guardduty.list_detectors().get("DetectorIds", [])
        if detectors:
            raise RefusedError(
                f"the account already has the GuardDuty detector {detectors[0]} in {self.aws.region} and AWS allows "
                f"one per region, so {ACCOUNT_STACK} cannot create its own; delete that detector or import it into "
                "the stack, then run again."
            )
        try:
            hub = self.aws.client("securityhub").describe_hub()
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("InvalidAccessException", "ResourceNotFoundException"):
                return  # Security Hub is not enabled: the stack enables it
            raise
        raise RefusedError(
            f"Security Hub is already enabled in {self.aws.region} ({hub.get('HubArn', 'its hub')}) and AWS allows "
            f"one hub per region, so {ACCOUNT_STACK} cannot create its own; disable it or import it into the "
            "stack, then run again."
        )

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            self.aws.client("s3").head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise
        return True

    def apply(self) -> dict[str, str]:
        """Create the baseline, or update it through a change set; return its outputs (``up``'s steps)."""
        state = self.state()
        if state is None:
            self.preflight()
            self._create()
        elif state.status in UPDATABLE:
            self._update(state)
        else:
            raise StackStateError(self._state_message(state))
        self._ensure_termination_protection()
        return self.baseline_outputs()

    def baseline_outputs(self) -> dict[str, str]:
        state = self.require_attachable()
        return {o["OutputKey"]: o.get("OutputValue", "") for o in state.outputs}

    def require_attachable(self) -> StackState:
        state = self.state()
        if state is None:
            raise StackStateError(
                f"stack {ACCOUNT_STACK} does not exist in {self.aws.region}; deploy the account baseline with "
                f"`python -m deploy account up --region {self.aws.region}`."
            )
        if state.status not in ATTACHABLE:
            raise StackStateError(self._state_message(state))
        return state
