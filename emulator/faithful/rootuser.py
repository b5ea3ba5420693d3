"""The account's root user: MFA on and no access keys by default, and the AWS ways to change that.

Gaps in MiniStack 1.5.33 (measured with boto3 against the running emulator):

* GetAccountSummary answered ``AccountMFAEnabled`` 0 for a new account and 1 as soon as any
  IAM user had an MFA device, and ``AccountAccessKeysPresent`` always 0 (0 also after a root
  CreateAccessKey), whatever the root user had. On AWS both
  are the root user's: its MFA device and its access keys.
* CreateAccessKey without ``UserName`` made a key for a user named ``default``, whoever called.
  On AWS it makes a key for the caller: the root user's own key when root calls (which is what
  ``AccountAccessKeysPresent`` counts), the calling IAM user's when a user calls.
* DeactivateMFADevice without ``UserName`` failed ``NoSuchEntity`` ("... is not assigned to
  user ."); on AWS root calls it to
  deactivate its own MFA device.

* The credential report's ``<root_account>`` row said ``mfa_active`` false and no keys, always;
  ListMFADevices without ``UserName`` called by root listed nothing. -> both report the root
  user's MFA device and access keys.

The emulator's root user, by default, stands in for a well-run account: MFA on (a virtual
device ``arn:aws:iam::<account>:mfa/root-account-mfa-device``, listed by
ListVirtualMFADevices with the root user's ARN) and no access keys. The emulator's default
credentials (any key MiniStack takes for root, such as ``test``) are the emulator's transport
identity: GetCallerIdentity answers ``arn:aws:iam::<account>:root`` for them, as MiniStack
does, but they are not counted as root access keys (no key record exists for them).

How to change it, as on AWS (root calling, i.e. with the default credentials):

* ``iam.create_access_key()`` (no UserName) creates a root access key:
  ``AccountAccessKeysPresent`` 1 until ``iam.delete_access_key(AccessKeyId=...)``. The key
  authenticates as the root user (GetCallerIdentity answers the root ARN).
* ``iam.deactivate_mfa_device(SerialNumber="arn:aws:iam::<account>:mfa/root-account-mfa-device")``
  (no UserName) turns root MFA off: ``AccountMFAEnabled`` 0. AWS offers no API to enable root
  MFA again (EnableMFADevice requires a UserName; root MFA is assigned in the console): the
  emulator's reset (``/_ministack/reset``) restores the default.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from typing import Any

log = logging.getLogger("faithful.rootuser")

ROOT_OWNER = "<root>"  # the UserName under which MiniStack's key store keeps a root access key
DEVICE = "root-account-mfa-device"
# account -> root MFA enabled (absent: the default, enabled)
MFA_OFF: set[str] = set()
_caller: contextvars.ContextVar[str] = contextvars.ContextVar("faithful_rootuser_caller", default="")


def root_serial(account: str) -> str:
    return f"arn:aws:iam::{account}:mfa/{DEVICE}"


def install() -> None:
    from faithful._restjson import on_reset
    from ministack.core import iam_evaluator
    from ministack.core.responses import get_account_id
    from ministack.core.router import extract_access_key_id
    from ministack.services import iam

    handlers = iam._IAM_HANDLERS
    original_create_key = handlers["CreateAccessKey"]
    original_list_keys = handlers["ListAccessKeys"]
    original_summary = handlers["GetAccountSummary"]
    original_deactivate = handlers["DeactivateMFADevice"]
    original_list_virtual = handlers["ListVirtualMFADevices"]
    original_list_mfa = handlers["ListMFADevices"]
    original_resolve = iam_evaluator.resolve_caller_identity

    def caller_is_root() -> bool:
        return _caller.get().endswith(":root")

    def caller_user() -> str:
        arn = _caller.get()
        return arn.rsplit("/", 1)[-1] if ":user/" in arn else ""

    def strip_root_owner(answer: Any) -> Any:
        status, headers, body = answer
        text = body.decode() if isinstance(body, bytes) else str(body)
        for owner in (ROOT_OWNER, "&lt;root&gt;", "default"):  # AWS names no user for the root user's keys
            text = text.replace(f"<UserName>{owner}</UserName>", "")
        return status, headers, text.encode()

    def create_access_key(params: dict[str, Any]) -> Any:
        if iam._p(params, "UserName"):
            return original_create_key(params)
        if caller_is_root():  # MiniStack's "default" owner, then re-owned by the root user
            answer = original_create_key(params)
            found = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", answer[2].decode())
            if answer[0] == 200 and found and (record := iam._access_keys.get(found.group(1))) is not None:
                record["UserName"] = ROOT_OWNER
            return strip_root_owner(answer)
        user = caller_user()
        return original_create_key({**params, "UserName": [user]} if user else params)

    def list_access_keys(params: dict[str, Any]) -> Any:
        if iam._p(params, "UserName"):
            return original_list_keys(params)
        if caller_is_root():
            return strip_root_owner(original_list_keys({**params, "UserName": [ROOT_OWNER]}))
        user = caller_user()
        return original_list_keys({**params, "UserName": [user]} if user else params)

    def root_keys(account: str) -> int:
        return sum(1 for key in iam._access_keys.values() if key.get("UserName") == ROOT_OWNER)

    def get_account_summary(params: dict[str, Any]) -> Any:
        status, headers, body = original_summary(params)
        account = get_account_id()
        mfa = account not in MFA_OFF
        text = body.decode() if isinstance(body, bytes) else str(body)
        values = {"AccountMFAEnabled": int(mfa), "AccountAccessKeysPresent": int(root_keys(account) > 0)}
        for key in ("MFADevices", "MFADevicesInUse"):
            found = re.search(rf"<key>{key}</key><value>(\d+)</value>", text)
            values[key] = (int(found.group(1)) if found else 0) + int(mfa)
        users_in_use = sum(1 for d in iam._mfa_devices.values() if d.get("User"))
        values["MFADevicesInUse"] = users_in_use + int(mfa)
        for key, value in values.items():
            text = re.sub(rf"<key>{key}</key><value>\d+</value>", f"<key>{key}</key><value>{value}</value>", text)
        return status, headers, text.encode()

    def deactivate_mfa_device(params: dict[str, Any]) -> Any:
        account = get_account_id()
        if (
            not iam._p(params, "UserName")
            and caller_is_root()
            and iam._p(params, "SerialNumber") == root_serial(account)
        ):
            if account in MFA_OFF:
                return iam._error(404, "NoSuchEntity", f"MFA device {root_serial(account)} is not enabled.", ns="iam")
            MFA_OFF.add(account)
            return iam._xml(200, "DeactivateMFADeviceResponse", "", ns="iam")
        return original_deactivate(params)

    def list_virtual_mfa_devices(params: dict[str, Any]) -> Any:
        status, headers, body = original_list_virtual(params)
        account = get_account_id()
        if account in MFA_OFF or (iam._p(params, "AssignmentStatus") or "Assigned") == "Unassigned":
            return status, headers, body
        text = body.decode() if isinstance(body, bytes) else str(body)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START))
        member = (
            f"<member><SerialNumber>{root_serial(account)}</SerialNumber>"
            f"<User><Path>/</Path><UserId>{account}</UserId><Arn>arn:aws:iam::{account}:root</Arn>"
            f"<CreateDate>{since}</CreateDate></User><EnableDate>{since}</EnableDate></member>"
        )
        text = text.replace("<VirtualMFADevices>", f"<VirtualMFADevices>{member}", 1)
        return status, headers, text.encode()

    def list_mfa_devices(params: dict[str, Any]) -> Any:
        status, headers, body = original_list_mfa(params)
        account = get_account_id()
        if iam._p(params, "UserName") or not caller_is_root() or account in MFA_OFF:
            return status, headers, body
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START))
        member = f"<member><SerialNumber>{root_serial(account)}</SerialNumber><EnableDate>{since}</EnableDate></member>"
        text = body.decode() if isinstance(body, bytes) else str(body)
        return status, headers, text.replace("<MFADevices>", f"<MFADevices>{member}", 1).encode()

    original_report = iam._build_credential_report

    def build_credential_report() -> str:
        """The report's ``<root_account>`` row with the root user's MFA and access keys."""
        account = get_account_id()
        lines = original_report().split("\n")
        keys = sorted(
            (k for k in iam._access_keys.values() if k.get("UserName") == ROOT_OWNER),
            key=lambda k: str(k.get("CreateDate", "")),
        )
        columns: list[str] = []
        for key in [*keys, None, None][:2]:
            if key is None:
                columns += ["false", "N/A", "N/A", "N/A", "N/A"]
            else:
                columns += [
                    "true" if key.get("Status") == "Active" else "false",
                    str(key.get("CreateDate")),
                    "N/A",
                    "N/A",
                    "N/A",
                ]
        for i, line in enumerate(lines):
            cells = line.split(",")
            if cells[0] == "<root_account>" and len(cells) >= 18:
                cells[7] = "false" if account in MFA_OFF else "true"
                cells[8:18] = columns
                lines[i] = ",".join(cells)
        return "\n".join(lines)

    iam._build_credential_report = build_credential_report

    handlers.update(
        ListMFADevices=list_mfa_devices,
        CreateAccessKey=create_access_key,
        ListAccessKeys=list_access_keys,
        GetAccountSummary=get_account_summary,
        DeactivateMFADevice=deactivate_mfa_device,
        ListVirtualMFADevices=list_virtual_mfa_devices,
    )

    def resolve_caller_identity(access_key_id: str) -> dict[str, Any] | None:
        identity = original_resolve(access_key_id)
        key = iam._access_keys.get(access_key_id) if access_key_id else None
        if identity is not None and key is not None and key.get("UserName") == ROOT_OWNER:
            account = get_account_id()
            identity.update(userArn=f"arn:aws:iam::{account}:root", userId=account)
        return identity

    iam_evaluator.resolve_caller_identity = resolve_caller_identity
    original_handle = iam.handle_request

    async def handle_request(method: str, path: str, headers: Any, body: bytes, query_params: Any) -> Any:
        identity = resolve_caller_identity(extract_access_key_id(headers, query_params) or "test")
        token = _caller.set(identity["userArn"] if identity else f"arn:aws:iam::{get_account_id()}:root")
        try:
            return await original_handle(method, path, headers, body, query_params)
        finally:
            _caller.reset(token)

    iam.handle_request = handle_request
    on_reset(MFA_OFF.clear)
    log.info("root user (MFA on, no access keys) installed")


START = time.time()
