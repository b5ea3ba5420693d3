"""Key identity by meaning: an ARN, a key id, an alias name and an alias ARN name the same key.

Unit tests of ``conformance/keys.py`` and of the two checks that compared key identifiers as
exact strings (the Aurora cluster's ``KmsKeyId`` and the flow-log group's ``kmsKeyId``): they
run on an inventory built from the data the collectors keep, with the key reported in each
form AWS documents, and fail for another key.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from conformance.inventory.database import DatabaseSection
from conformance.inventory.network import NetworkSection
from conformance.inventory.storage import StorageSection
from conformance.keys import names_key
from tests.database.test_aurora import test_aurora_storage_encrypted_with_environment_key as aurora_check
from tests.network.test_flow_logs import test_vpc_flow_log_group_is_kms_encrypted as flow_log_check

if TYPE_CHECKING:
    from types_boto3_kms.type_defs import KeyMetadataTypeDef

REGION, ACCOUNT = "eu-west-1", "123456789012"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
ALIAS = "alias/payments-dev-a-key"
KEY: KeyMetadataTypeDef = {"KeyId": KEY_ID, "Arn": KEY_ARN}
OTHER_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"

SAME_KEY = [KEY_ARN, KEY_ID, ALIAS, f"arn:aws:kms:{REGION}:{ACCOUNT}:{ALIAS}"]
NOT_THE_KEY = [
    OTHER_KEY_ARN,
    "0987dcba-09fe-87dc-65ba-ab0987654321",
    "alias/aws/rds",  # the AWS managed key: not an alias of this key
    f"arn:aws:kms:{REGION}:111122223333:{ALIAS}",  # the same alias name in another account
    f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}",  # the same id in another region's ARN
    "",
    None,
]


@pytest.mark.parametrize("reported", SAME_KEY)
def test_every_documented_form_names_the_key(reported):
    assert names_key(reported, KEY, [ALIAS])


@pytest.mark.parametrize("reported", NOT_THE_KEY)
def test_another_key_or_a_foreign_alias_does_not(reported):
    assert not names_key(reported, KEY, [ALIAS])


def test_an_alias_counts_only_when_list_aliases_lists_it_for_the_key():
    assert not names_key(ALIAS, KEY, [])
    assert not names_key(ALIAS, {}, [ALIAS])


class _Evidence:
    def attach(self, name: str, value: object) -> None:
        pass


def _inventory(reported: str) -> SimpleNamespace:
    storage = StorageSection(key=KEY, key_aliases=[ALIAS], log_groups=[{"logGroupName": "flow", "kmsKeyId": reported}])
    network = NetworkSection(
        flow_logs=[
            {
                "FlowLogId": "fl-1",
                "ResourceId": "vpc-1",
                "TrafficType": "ALL",
                "FlowLogStatus": "ACTIVE",
                "DeliverLogsStatus": "SUCCESS",
                "LogDestinationType": "cloud-watch-logs",
                "LogGroupName": "flow",
            }
        ]
    )
    database = DatabaseSection(cluster={"StorageEncrypted": True, "KmsKeyId": reported})
    for section in (storage, network, database):
        section.seal()
    outputs = SimpleNamespace(AuroraClusterIdentifier="payments-dev-a-aurora", KMSKeyArn=KEY_ARN, VPCId="vpc-1")
    return SimpleNamespace(
        storage=storage, network=network, database=database, outputs=outputs, stack_name="payments-dev-a"
    )


@pytest.mark.parametrize("check", [aurora_check, flow_log_check], ids=["aurora", "flow-log-group"])
@pytest.mark.parametrize("reported", SAME_KEY, ids=["arn", "key-id", "alias", "alias-arn"])
def test_checks_accept_the_key_in_any_form(check, reported):
    check("dev", _inventory(reported), _Evidence())


@pytest.mark.parametrize("check", [aurora_check, flow_log_check], ids=["aurora", "flow-log-group"])
def test_checks_fail_for_another_key_naming_it(check):
    with pytest.raises(AssertionError, match=OTHER_KEY_ARN):
        check("dev", _inventory(OTHER_KEY_ARN), _Evidence())
