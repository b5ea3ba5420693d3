"""The boto3 deployer: stands up or updates one environment's stack and resolves its outputs.

Safety rules, each with a self-test:

* A stack that exists is updated through a change set (changes printed; nothing done when
  nothing changed). A stack in a failed or busy state is refused with the state and the fix,
  never deleted or "repaired" silently.
* The poller is our own: it follows the stack's status and events (resources done / total,
  latest events) and treats every rollback state as failure (boto3's ``stack_create_complete``
  waiter treats ``UPDATE_ROLLBACK_COMPLETE`` as success).
* On failure the error lists every failed resource (logical id, type, status, reason),
  root cause first.
* Every stack carries the platform tags plus the run id and the creator tag; staging and
  prod get termination protection.
* The template is never sent inline: its compact JSON goes to the account's hardened artifacts
  bucket and CloudFormation reads it by TemplateURL (deploy/artifacts.py), so the 51,200-byte
  inline limit does not apply (1,000,000 bytes from S3).
* ``down`` deletes only a stack this suite created (creator tag), never prod, never a stack
  with termination protection on. ``release_retained`` then removes what that stack retained and
  holds no data (an empty bucket, the cluster's final snapshot) and schedules the deletion of
  the stack's KMS key once nothing encrypted with it is left; a teardown that keeps data keeps the key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions

from core.aws import AwsSession, error_code
from core.errors import (
    DeploymentFailed,
    InfrastructureError,
    RefusedError,
    StackStateError,
)
from core.outputs import StackOutputs
from core.runid import new_run_id
from core.spec import TEMPLATE_PATH, EnvironmentSpec
from core.template import compact_json, load_template, template_sha256
from deploy.artifacts import ArtifactsBucket
from deploy.tags import CREATOR_TAG, CREATOR_VALUE, RUN_ID_TAG

TEMPLATE_HASH_TAG = "payments-conformance:template-sha256"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# KMS's shortest pending window: the days in which `aws kms cancel-key-deletion` still brings back a
# key the teardown scheduled for deletion (nothing encrypted with it is left by then, docs/lifecycle.md)
KEY_PENDING_WINDOW_DAYS = 7
# a final snapshot is one the stack's deletion made: created after DeleteStack, give or take clock skew
SNAPSHOT_CLOCK_SKEW_SECONDS = 120

SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
FAILURE = {
    "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}  # fmt: skip
# States an existing stack may be in for the deployer to update it.
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
# States in which the suite may attach to a stack and judge it: settled, every resource in place.
# UPDATE_ROLLBACK_COMPLETE is judged (its last update failed and it runs the previous template:
# the stack check says so, red) rather than refused; a failed creation or rollback is refused.
ATTACHABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}
FIXES = {
    "ROLLBACK_COMPLETE": (
        "its creation failed and it cannot be updated; read its events (`python -m deploy status --env {env}`), "
        "delete it yourself (`aws cloudformation delete-stack --stack-name {stack}`) and deploy again"
    ),
    "ROLLBACK_FAILED": "its rollback failed; fix the resources named in its events and delete it by hand",
    "UPDATE_ROLLBACK_FAILED": (
        "its last update could not roll back; fix the resource, then `aws cloudformation "
        "continue-update-rollback --stack-name {stack}`"
    ),
    "UPDATE_ROLLBACK_COMPLETE": (
        "its last update failed and was rolled back, so it does not run the current template; "
        "redeploy with `python -m deploy up --env {env}` once the cause is fixed"
    ),
    "DELETE_FAILED": "its deletion failed; remove the retained resources named in its events and delete again",
}
CANCELLED = ("Resource creation cancelled", "Resource update cancelled", "Resource creation Initiated")

Printer = Callable[[str], None]


@dataclass(frozen=True)
class StackState:
    name: str
    status: str
    reason: str
    tags: dict[str, str]
    termination_protection: bool
    outputs: list[dict[str, str]]
    stack_id: str

    @property
    def created_by_suite(self) -> bool:
        return self.tags.get(CREATOR_TAG) == CREATOR_VALUE


@dataclass(frozen=True)
class FailedResource:
    logical_id: str
    resource_type: str
    status: str
    reason: str

    def line(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.status}: {self.reason or 'no reason given'}"


class Deployer:
    """Create, update, inspect and delete one environment's stack."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        aws: AwsSession,
        *,
        run_id: str | None = None,
        out: Printer = print,
        template_path: Path = TEMPLATE_PATH,
        poll_seconds: float | None = None,
        deadline_seconds: float | None = None,
        stop_when: Callable[[], bool] | None = None,
    ) -> None:
        self.spec = spec
        self.aws = aws
        self.run_id = run_id or new_run_id()
        self.out = out
        self.template_path = template_path
        self.poll_seconds = poll_seconds if poll_seconds is not None else (0.25 if aws.is_emulated else 5.0)
        self.deadline_seconds = deadline_seconds or (600.0 if aws.is_emulated else 5400.0)
        self.cfn = aws.client("cloudformation")
        self.described: dict[str, Any] | None = None
        # the id of the stack this deployer's CreateStack made (None: it created nothing); teardown
        # and the interrupt path delete only that stack
        self.created_stack_id: str | None = None
        self.create_settled = threading.Event()  # set once a CreateStack call has answered (or none was made)
        self.create_settled.set()
        self._abandoned = threading.Event()
        # polled between waits: the controller's record of Ctrl-C and SIGTERM (a signal handler
        # sets no Event: it would take a lock the interrupted line may hold)
        self._stop_when = stop_when or (lambda: False)
        self.last_status: str | None = None  # the stack's status at the last look (None: never looked)
        self.delete_started = False  # this deployer's DeleteStack was answered
        self.retained_records: list[dict[str, str]] = []  # set by down(): what DeletionPolicy Retain keeps
        self.deleted_clusters: list[str] = []  # set by down(): the stack's DB clusters (their final snapshots)
        self.deleted_at: datetime | None = None  # set by a down() that saw the stack DELETE_COMPLETE

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` between polls; True at once when abandoned or asked to stop."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop_when():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._abandoned.wait(min(0.2, left)):
                return True

    def abandon(self) -> None:
        """Stop waiting: a poll in progress (another thread) raises at its next turn. The stack
        operation itself goes on in CloudFormation."""
        self._abandoned.set()

    @property
    def stack_name(self) -> str:
        return self.spec.stack_name

    # what a subclass deploying another template (deploy/account.py) says instead of the environment's
    @property
    def label(self) -> str:
        """The environment's name in messages (``--env NAME``)."""
        return self.spec.name

    def command(self, verb: str) -> str:
        """The deployer's command line for ``verb`` on this stack, as messages name it."""
        return f"python -m deploy {verb} --env {self.label}"

    def template_parameters(self) -> list[dict[str, str]]:
        return self.spec.template_parameters()

    @property
    def wants_termination_protection(self) -> bool:
        return self.spec.expectations.termination_protection

    @property
    def never_deleted(self) -> bool:
        """Never deleted by the suite (prod)."""
        return self.spec.tier == "prod"

    # ------------------------------------------------------------------ inspection
    def state(self) -> StackState | None:
        try:
            stacks = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                self.last_status = "DELETE_COMPLETE" if self.last_status else None
                return None
            raise
        if not stacks:
            return None
        s = stacks[0]
        self.described = s  # the last description, for the inventory (no second DescribeStacks)
        self.last_status = s["StackStatus"]
        if s["StackStatus"] == "DELETE_COMPLETE":
            return None
        return StackState(
            name=s["StackName"],
            status=s["StackStatus"],
            reason=s.get("StackStatusReason", ""),
            tags={t["Key"]: t["Value"] for t in s.get("Tags", [])},
            termination_protection=bool(s.get("EnableTerminationProtection", False)),
            outputs=s.get("Outputs", []),
            stack_id=s["StackId"],
        )

    def require_attachable(self) -> StackState:
        state = self.state()
        if state is None:
            raise StackStateError(
                f"stack {self.stack_name} does not exist in {self.aws.region}; deploy it with "
                f"`python -m deploy up --env {self.label}` or run pytest with --deploy."
            )
        if state.status not in ATTACHABLE:
            raise StackStateError(self._state_message(state))
        return state

    def outputs(self) -> StackOutputs:
        state = self.require_attachable()
        return StackOutputs.from_stack(state.name, state.outputs)

    def _state_message(self, state: StackState) -> str:
        fix = FIXES.get(state.status, "wait for the operation in progress to finish, then run again")
        fix = fix.format(env=self.label, stack=state.name)
        for verb in ("up", "status", "down"):
            fix = fix.replace(f"python -m deploy {verb} --env {self.label}", self.command(verb))
        return f"stack {state.name} is in {state.status}: {fix}."

    # ------------------------------------------------------------------ deploy
    def tags(self) -> list[dict[str, str]]:
        p = self.spec.parameters
        tags = {
            "Environment": p.EnvironmentName,
            "Application": "payments",
            "Owner": p.Owner,
            "CostCenter": p.CostCenter,
            "ManagedBy": "cloudformation",
            CREATOR_TAG: CREATOR_VALUE,
            RUN_ID_TAG: self.run_id,
            TEMPLATE_HASH_TAG: template_sha256(self.template_path)[:16],
        }
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def _template_url(self) -> str:
        """The template as CloudFormation reads it: its compact JSON, uploaded to the account's
        artifacts bucket (deploy/artifacts.py) and passed by TemplateURL, never inline, so no
        template is held to the 51,200-byte inline limit (1,000,000 bytes from S3)."""
        return ArtifactsBucket(self.aws, out=self.out).upload_template(compact_json(self.template_path))

    def up(self) -> StackOutputs:
        """Create the stack, or update it through a change set; return its outputs."""
        state = self.state()
        if state is None:
            self.preflight()
            self._create()
        elif state.status in UPDATABLE:
            self.check_certificate()
            self._update(state)
        else:
            raise StackStateError(self._state_message(state))
        self._ensure_termination_protection()
        return self.outputs()

    def check_certificate(self) -> None:
        """Stop (exit 4, nothing created or changed) when the environment file's certificate_arn is
        not an issued ACM certificate of this account and region (deploy/preflight.py)."""
        from deploy.preflight import check_certificate

        check_certificate(self.spec, self.aws, out=self.out)

    def preflight(self) -> None:
        """Before a create: stop (exit 3, nothing created) when the region lacks the stack's Elastic
        IPs, naming a candidate region with room, and (exit 4) when the environment file's
        certificate is not in ACM (deploy/preflight.py)."""
        from deploy.preflight import choose_region, session_factory

        choose_region(
            self.spec, self.aws, session_factory(self.aws), auto=False, out=self.out, template_path=self.template_path
        )
        self.check_certificate()

    def _create(self) -> None:
        self.out(f"{self.stack_name}: creating in {self.aws.region} (run {self.run_id})")
        started = datetime.now(UTC)
        self.create_settled.clear()
        try:
            self.created_stack_id = self._create_stack()
        finally:
            self.create_settled.set()
        self._wait(started, "CREATE_COMPLETE")

    def _create_stack(self) -> str:
        template_url = self._template_url()
        try:
            created = self.cfn.create_stack(
                StackName=self.stack_name,
                TemplateURL=template_url,
                Parameters=self.template_parameters(),
                Capabilities=CAPABILITIES,
                Tags=self.tags(),
                OnFailure="ROLLBACK",
                EnableTerminationProtection=self.wants_termination_protection,
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "AlreadyExistsException":
                raise StackStateError(
                    f"stack {self.stack_name} was created by someone else a moment ago; run again to update it."
                ) from None
            raise DeploymentFailed(f"CloudFormation refused to create {self.stack_name}: {exc}") from None
        return str(created["StackId"])

    def _update(self, state: StackState) -> None:
        name = f"payments-conformance-{self.run_id}".replace(":", "-")[:128]
        started = datetime.now(UTC)
        # Stack tags propagate to every resource, so a tag that changes on each run would make
        # every redeploy an update of every resource: the run-id tag names the run that created
        # the stack and is kept as it is.
        tags = [
            {"Key": t["Key"], "Value": state.tags.get(RUN_ID_TAG, t["Value"])} if t["Key"] == RUN_ID_TAG else t
            for t in self.tags()
        ]
        if state.created_by_suite is False:
            # keep the ownership of a stack someone else created: never claim it as ours
            tags = [t for t in tags if t["Key"] not in (CREATOR_TAG, RUN_ID_TAG)]
        self.cfn.create_change_set(
            StackName=self.stack_name,
            ChangeSetName=name,
            ChangeSetType="UPDATE",
            TemplateURL=self._template_url(),
            Parameters=self.template_parameters(),
            Capabilities=CAPABILITIES,
            Tags=tags,
        )
        change_set = self._wait_change_set(name)
        if change_set is None:
            self.out(f"{self.stack_name}: no changes; nothing to do")
            return
        changes = change_set.get("Changes", [])
        self.out(f"{self.stack_name}: change set {name} with {len(changes)} change(s):")
        for change in changes:
            rc = change.get("ResourceChange", {})
            replace = rc.get("Replacement")
            self.out(
                f"  {rc.get('Action', '?'):<7} {rc.get('LogicalResourceId', '?')} ({rc.get('ResourceType', '?')})"
                + (f" replacement={replace}" if replace and replace != "False" else "")
            )
        self.cfn.execute_change_set(StackName=self.stack_name, ChangeSetName=name)
        self._wait(started, "UPDATE_COMPLETE")

    def _wait_change_set(self, name: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + 300
        while True:
            cs = self.cfn.describe_change_set(StackName=self.stack_name, ChangeSetName=name)
            status, reason = cs.get("Status"), cs.get("StatusReason", "")
            if status == "CREATE_COMPLETE":
                return dict(cs)
            if status == "FAILED":
                if "didn't contain changes" in reason or "No updates" in reason:
                    self.cfn.delete_change_set(StackName=self.stack_name, ChangeSetName=name)
                    return None
                raise DeploymentFailed(f"change set {name} for {self.stack_name} failed: {reason}")
            if time.monotonic() > deadline:
                raise DeploymentFailed(f"change set {name} for {self.stack_name} was not ready within 300 s")
            if self._pause(self.poll_seconds):
                raise DeploymentFailed(f"stopped waiting for change set {name}: the run was interrupted")

    def _ensure_termination_protection(self) -> None:
        if not self.wants_termination_protection:
            return
        state = self.state()
        if state is not None and not state.termination_protection:
            self.cfn.update_termination_protection(StackName=self.stack_name, EnableTerminationProtection=True)
            self.out(f"{self.stack_name}: termination protection turned on")

    # ------------------------------------------------------------------ polling
    def _events_since(self, since: datetime) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        paginator = self.cfn.get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=self.stack_name):
            for event in page.get("StackEvents", []):
                ts = event.get("Timestamp")
                if isinstance(ts, datetime) and ts.tzinfo is None:
                    ts = ts.replace(tzinfo=UTC)
                if isinstance(ts, datetime) and ts < since.replace(microsecond=0):
                    return list(reversed(events))
                events.append(event)
        return list(reversed(events))  # oldest first

    def _wait(self, started: datetime, goal: str) -> None:
        """Poll status and events until a terminal state; raise with the failed resources on failure."""
        deadline = time.monotonic() + self.deadline_seconds
        total = self._resource_total()
        shown: set[str] = set()
        last_line = ""
        while True:
            state = self.state()
            status = state.status if state else ("DELETE_COMPLETE" if goal == "DELETE_COMPLETE" else "MISSING")
            events = self._events_since(started) if state else []
            done = {
                e["LogicalResourceId"]
                for e in events
                if e.get("ResourceStatus", "").endswith("_COMPLETE") and e["LogicalResourceId"] != self.stack_name
            }
            fresh = [e for e in events if e.get("EventId") not in shown]
            for e in fresh:
                shown.add(e.get("EventId", ""))
            latest = fresh[-1] if fresh else None
            line = f"{self.stack_name}: {status} {len(done)}/{total} resources"
            if latest is not None:
                line += f" · {latest['LogicalResourceId']} {latest.get('ResourceStatus', '')}"
            if line != last_line:
                self.out(line)
                last_line = line
            if status == goal or (goal != "DELETE_COMPLETE" and status in SUCCESS and status == goal):
                return
            if status in FAILURE or status == "MISSING":
                failed = self.failed_resources(events)
                reason = state.reason if state and state.reason else "no reason given"
                lines = "\n".join(f"  - {f.line()}" for f in failed) or f"  - the stack itself: {reason}"
                raise DeploymentFailed(
                    f"stack {self.stack_name} ended in {status} instead of {goal}; failed resources, root cause "
                    f"first:\n{lines}"
                )
            if time.monotonic() > deadline:
                raise DeploymentFailed(
                    f"stack {self.stack_name} is still {status} after {self.deadline_seconds:.0f} s; "
                    "look at its events in the console and run again."
                )
            if self._pause(self.poll_seconds):
                raise DeploymentFailed(f"stopped waiting for {self.stack_name} ({status}): the run was interrupted")

    def failed_resources(self, events: list[dict[str, Any]]) -> list[FailedResource]:
        """Failed resource events, oldest first, with cancellations (consequences) last."""
        failed: dict[str, FailedResource] = {}
        for e in events:
            if not e.get("ResourceStatus", "").endswith("_FAILED") or e["LogicalResourceId"] == self.stack_name:
                continue
            failed.setdefault(
                e["LogicalResourceId"],
                FailedResource(
                    logical_id=e["LogicalResourceId"],
                    resource_type=e.get("ResourceType", "?"),
                    status=e["ResourceStatus"],
                    reason=e.get("ResourceStatusReason", ""),
                ),
            )
        items = list(failed.values())
        return sorted(items, key=lambda f: any(f.reason.startswith(c) for c in CANCELLED))

    def _resource_total(self) -> int:
        return len(load_template(self.template_path).get("Resources") or {})

    # ------------------------------------------------------------------ teardown
    def down(self, *, wait: bool = True) -> list[str]:
        """Delete the stack if this suite created it; return the resources it retained."""
        state = self.state()
        if state is None:
            self.out(f"{self.stack_name}: does not exist; nothing to delete")
            return []
        if self.never_deleted:
            raise RefusedError(
                f"refusing to delete {state.name}: the suite never deletes prod; delete it by hand if you must."
            )
        if state.termination_protection:
            raise RefusedError(
                f"refusing to delete {state.name}: termination protection is on; the suite never turns it off."
            )
        if not state.created_by_suite:
            raise RefusedError(
                f"refusing to delete {state.name}: it lacks the tag {CREATOR_TAG}={CREATOR_VALUE}, so this "
                "suite did not create it."
            )
        self.retained_records, self.deleted_clusters = self._retained_records()
        retained = [f"{r['ResourceType']} {r['PhysicalResourceId']}" for r in self.retained_records]
        started = datetime.now(UTC)
        self.out(f"{self.stack_name}: deleting")
        self.cfn.delete_stack(StackName=self.stack_name)
        self.delete_started = True
        if wait:
            try:
                self._wait(started, "DELETE_COMPLETE")
            except DeploymentFailed:
                self._raise_if_delete_failed(started)
                raise
            self.out(f"{self.stack_name}: deleted")
            self.deleted_at = started
            if retained:
                self.out(f"{self.stack_name}: retained by DeletionPolicy: {', '.join(retained)}")
        return retained

    def start_deleting_created(self) -> str | None:
        """Start deleting the stack this deployer created, without waiting (the interrupt path).

        Returns the stack's name when its deletion was started, None when this deployer created
        nothing or the stack by that name is no longer the one it created. ``down``'s rules apply
        (never prod, never with termination protection, only with the creator tag).
        """
        if self.created_stack_id is None:
            return None
        state = self.state()
        if state is None or state.stack_id != self.created_stack_id:
            return None
        if state.status == "DELETE_IN_PROGRESS" and self.delete_started:  # the teardown's, interrupted
            return state.name
        self.down(wait=False)
        return state.name

    def left_behind(self) -> None:
        """After ``down``: raise TeardownIncomplete (exit 3) naming the retained resources that still
        hold data (deploy/teardown.py); nothing is emptied or deleted here."""
        from deploy.teardown import TeardownIncomplete, message, retained_leftovers

        leftovers = retained_leftovers(self.aws, self.retained_records)
        if leftovers:
            raise TeardownIncomplete(
                message(self.stack_name, self.label, "DELETE_COMPLETE", leftovers, command=self.command("down"))
            )

    def _raise_if_delete_failed(self, started: datetime) -> None:
        from deploy.teardown import TeardownIncomplete, failed_leftovers, message, retained_leftovers

        state = self.state()
        if state is None or state.status != "DELETE_FAILED":
            return
        leftovers = failed_leftovers(self._events_since(started), self.stack_name)
        leftovers += retained_leftovers(self.aws, self.retained_records)
        raise TeardownIncomplete(
            message(self.stack_name, self.label, "DELETE_FAILED", leftovers, command=self.command("down"))
        ) from None

    def _retained_records(self) -> tuple[list[dict[str, str]], list[str]]:
        """What DeletionPolicy Retain will keep, and the stack's DB clusters (whose deletion snapshots them)."""
        doc = load_template(self.template_path)
        retained_ids = {
            lid for lid, r in (doc.get("Resources") or {}).items() if (r or {}).get("DeletionPolicy") == "Retain"
        }
        out, clusters = [], []
        paginator = self.cfn.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=self.stack_name):
            for r in page.get("StackResourceSummaries", []):
                if not r.get("PhysicalResourceId"):
                    continue
                if r["LogicalResourceId"] in retained_ids:
                    out.append({k: r[k] for k in ("LogicalResourceId", "ResourceType", "PhysicalResourceId")})
                if r.get("ResourceType") == "AWS::RDS::DBCluster":
                    clusters.append(r["PhysicalResourceId"])
        return out, clusters

    def release_retained(self) -> None:
        """After a ``down`` that completed: remove what the stack retained and holds no data, then retire its key.

        Only a stack ``down`` deleted (this suite's, never prod, never with termination protection).
        An empty retained bucket is deleted; the final snapshots the deletion made of the stack's
        clusters are deleted; a bucket holding objects is kept (``left_behind`` names it, exit 3;
        ``--purge-retained`` empties it first). Then each retained KMS key: scheduled for deletion
        (``KEY_PENDING_WINDOW_DAYS``) when nothing encrypted with it is left, kept otherwise, with a
        line saying which and why. Nothing is scheduled while data the key protects remains.
        """
        if self.deleted_at is None or self.never_deleted:
            return
        try:
            self._release_retained()
        except botocore.exceptions.ClientError as exc:
            raise InfrastructureError(
                f"{self.stack_name} was deleted but what it retained could not be released ({exc}); its key is "
                "kept: remove the retained bucket and final snapshot yourself, then schedule the key's deletion."
            ) from None

    def _release_retained(self) -> None:
        from deploy.teardown import bucket_objects

        kept: list[str] = []
        for r in self.retained_records:
            if r["ResourceType"] != "AWS::S3::Bucket":
                continue
            bucket = r["PhysicalResourceId"]
            n = bucket_objects(self.aws, bucket)
            if n == 0:
                self.aws.client("s3").delete_bucket(Bucket=bucket)
                self.out(f"{self.stack_name}: deleted the empty retained bucket {bucket}")
            elif n:
                kept.append(f"bucket {bucket} ({n}{'+' if n >= 1000 else ''} object versions)")
        kept += self._delete_final_snapshots()
        for r in self.retained_records:
            if r["ResourceType"] != "AWS::KMS::Key":
                continue
            key = r["PhysicalResourceId"]
            if kept:
                self.out(f"{self.stack_name}: kept the retained key {key}: it still encrypts {', '.join(kept)}")
                continue
            when = self.aws.client("kms").schedule_key_deletion(KeyId=key, PendingWindowInDays=KEY_PENDING_WINDOW_DAYS)
            date = when.get("DeletionDate")
            shown = date.strftime("%Y-%m-%d") if isinstance(date, datetime) else f"in {KEY_PENDING_WINDOW_DAYS} days"
            self.out(
                f"{self.stack_name}: scheduled the deletion of the retained key {key} ({shown}; nothing encrypted "
                f"with it is left; `aws kms cancel-key-deletion --key-id {key}` undoes it until then)"
            )

    def _delete_final_snapshots(self) -> list[str]:
        """Delete the snapshots the stack's deletion made of its clusters; return the snapshots left."""
        if not self.deleted_clusters or self.deleted_at is None:
            return []
        rds = self.aws.client("rds")
        since = self.deleted_at.timestamp() - SNAPSHOT_CLOCK_SKEW_SECONDS
        left = []
        for cluster in self.deleted_clusters:
            pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(
                DBClusterIdentifier=cluster, SnapshotType="manual"
            )
            for snap in (s for page in pages for s in page.get("DBClusterSnapshots", [])):
                ident, made = snap["DBClusterSnapshotIdentifier"], snap.get("SnapshotCreateTime")
                final = isinstance(made, datetime) and made.timestamp() >= since
                if final and snap.get("Status") == "available":
                    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=ident)
                    self.out(f"{self.stack_name}: deleted the final snapshot {ident} of the cluster {cluster}")
                else:
                    left.append(f"cluster snapshot {ident} ({snap.get('Status', '?')})")
        return left

    def purge_retained(self, retained: list[str]) -> None:
        """Empty and delete buckets retained by a stack this suite created and just deleted."""
        s3 = self.aws.client("s3")
        for item in retained:
            rtype, _, physical = item.partition(" ")
            if rtype != "AWS::S3::Bucket":
                continue
            paginator = s3.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=physical):
                objs = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if objs:
                    s3.delete_objects(Bucket=physical, Delete={"Objects": objs, "Quiet": True})
            s3.delete_bucket(Bucket=physical)
            self.out(f"{self.stack_name}: purged retained bucket {physical}")
