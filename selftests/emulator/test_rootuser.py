"""emulator/faithful/rootuser.py: root MFA on and no root keys by default; a root key and MFA off as on AWS."""

from __future__ import annotations

import boto3

ROOT_DEVICE = "arn:aws:iam::000000000000:mfa/root-account-mfa-device"


def _summary(iam) -> dict[str, int]:
    summary = iam.get_account_summary()["SummaryMap"]
    return {k: summary[k] for k in ("AccountMFAEnabled", "AccountAccessKeysPresent")}


def _root_row(iam) -> list[str]:
    iam.generate_credential_report()
    report = iam.get_credential_report()["Content"].decode().splitlines()
    return next(line.split(",") for line in report if line.startswith("<root_account>,"))


def test_root_defaults_and_drifts(emulator, aws):
    emulator.reset()
    iam, sts = aws("iam"), aws("sts")
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    assert _summary(iam) == {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0}
    devices = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    assert [(d["SerialNumber"], d["User"]["Arn"]) for d in devices] == [(ROOT_DEVICE, "arn:aws:iam::000000000000:root")]
    assert [d["SerialNumber"] for d in iam.list_mfa_devices()["MFADevices"]] == [ROOT_DEVICE]
    assert _root_row(iam)[7:9] == ["true", "false"]  # mfa_active, access_key_1_active

    # a user's MFA device is not the root user's
    iam.create_user(UserName="alice")
    iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")
    iam.enable_mfa_device(UserName="alice", SerialNumber="arn:aws:iam::000000000000:mfa/alice",
                          AuthenticationCode1="123456", AuthenticationCode2="654321")  # fmt: skip
    iam.deactivate_mfa_device(SerialNumber=ROOT_DEVICE)  # no UserName, called as root: root's own device
    assert _summary(iam) == {"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0}
    assert iam.get_account_summary()["SummaryMap"]["MFADevicesInUse"] == 1  # alice's

    # a user's key is not a root key; CreateAccessKey without UserName called by a user is the user's
    alice_key = iam.create_access_key(UserName="alice")["AccessKey"]
    as_alice = boto3.client("iam", region_name="us-east-1", endpoint_url=emulator.endpoint_url,
                            aws_access_key_id=alice_key["AccessKeyId"], aws_secret_access_key="x")  # fmt: skip
    assert as_alice.create_access_key()["AccessKey"]["UserName"] == "alice"
    assert _summary(iam)["AccountAccessKeysPresent"] == 0

    root_key = iam.create_access_key()["AccessKey"]  # no UserName, called as root: a root key
    assert _summary(iam)["AccountAccessKeysPresent"] == 1
    assert _root_row(iam)[7:9] == ["false", "true"]
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [root_key["AccessKeyId"]]
    as_root_key = boto3.client("sts", region_name="us-east-1", endpoint_url=emulator.endpoint_url,
                               aws_access_key_id=root_key["AccessKeyId"], aws_secret_access_key="x")  # fmt: skip
    assert as_root_key.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    iam.delete_access_key(AccessKeyId=root_key["AccessKeyId"])
    assert _summary(iam)["AccountAccessKeysPresent"] == 0

    emulator.reset()  # AWS has no API to enable root MFA again: the reset restores the default
    assert _summary(iam) == {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0}
