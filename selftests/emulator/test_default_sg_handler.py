"""The template's CIS 5.4 custom-resource handler (the inline ZipFile itself), run in-process against
the emulator's EC2 API, answering a local ResponseURL: Create revokes AWS's two default rules,
Delete restores them, a failure is answered FAILED with the reason (never left unanswered)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from core.template import load_template


def _handler_module() -> dict[str, Any]:
    code = load_template()["Resources"]["DefaultSgRestrictFunction"]["Properties"]["Code"]["ZipFile"]
    namespace: dict[str, Any] = {"__name__": "index"}
    exec(compile(code, "index.py", "exec"), namespace)  # the template's own handler
    return namespace


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    answers: list[dict[str, Any]] = []

    class Answer(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            answers.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cfn-response?signed=1", answers
    server.shutdown()
    server.server_close()


def _event(kind: str, group: str, url: str, physical: str | None = None) -> dict[str, Any]:
    event = {
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/probe/1",
        "RequestId": f"req-{kind}",
        "LogicalResourceId": "DefaultSecurityGroupRestriction",
        "ResourceProperties": {"DefaultSecurityGroupId": group, "Account": "000000000000"},
    }
    if physical:
        event["PhysicalResourceId"] = physical
    return event


def test_handler_revokes_then_restores_the_default_rules(emulator, aws, response_url, monkeypatch):
    url, answers = response_url
    for key, value in {
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.79.0.0/16")["Vpc"]["VpcId"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    group = next(g["GroupId"] for g in groups if g["GroupName"] == "default")

    def rules() -> tuple[list[Any], list[Any]]:
        g = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
        return g["IpPermissions"], g["IpPermissionsEgress"]

    assert all(rules()), "a new VPC's default group starts with AWS's self-ingress and all-egress rules"
    handler = _handler_module()["handler"]

    handler(_event("Create", group, url), None)
    assert answers[-1]["Status"] == "SUCCESS", answers[-1]
    assert answers[-1]["PhysicalResourceId"] == group and answers[-1]["RequestId"] == "req-Create"
    assert rules() == ([], [])

    handler(_event("Update", group, url, physical=group), None)  # idempotent: nothing left to revoke
    assert answers[-1]["Status"] == "SUCCESS", answers[-1]
    assert rules() == ([], [])

    handler(_event("Delete", group, url, physical=group), None)
    assert answers[-1]["Status"] == "SUCCESS", answers[-1]
    ingress, egress = rules()
    assert [p["GroupId"] for p in ingress[0]["UserIdGroupPairs"]] == [group]
    assert egress[0]["IpProtocol"] == "-1" and egress[0]["IpRanges"][0]["CidrIp"] == "0.0.0.0/0"

    handler(_event("Create", "sg-0000000000000dead", url), None)
    assert answers[-1]["Status"] == "FAILED" and "sg-0000000000000dead" in answers[-1]["Reason"], answers[-1]
