"""emulator/faithful/accessanalyzer.py: analyzers ACTIVE at once, AWS's ARN, conflicts and not-found."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def test_analyzer_lifecycle(emulator, aws):
    emulator.reset()
    aa = aws("accessanalyzer")
    arn = aa.create_analyzer(analyzerName="account", type="ACCOUNT")["arn"]
    assert arn == "arn:aws:access-analyzer:us-east-1:000000000000:analyzer/account"
    aa.create_analyzer(analyzerName="org", type="ORGANIZATION", tags={"k": "v"})
    analyzer = aa.get_analyzer(analyzerName="account")["analyzer"]
    assert (analyzer["status"], analyzer["type"], analyzer["arn"]) == ("ACTIVE", "ACCOUNT", arn)
    assert [a["name"] for a in aa.list_analyzers(type="ACCOUNT")["analyzers"]] == ["account"]
    assert {a["name"] for a in aa.list_analyzers()["analyzers"]} == {"account", "org"}
    with pytest.raises(ClientError) as conflict:
        aa.create_analyzer(analyzerName="account", type="ACCOUNT")
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as bad:
        aa.create_analyzer(analyzerName="x", type="EVERYTHING")
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    aa.delete_analyzer(analyzerName="account")
    with pytest.raises(ClientError) as missing:
        aa.get_analyzer(analyzerName="account")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    emulator.reset()
