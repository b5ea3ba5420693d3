"""emulator/faithful/lambda_sdk.py: an inline Python handler imports boto3 and calls the emulator."""

from __future__ import annotations

import io
import json
import zipfile

HANDLER = """
import boto3

def handler(event, context):
    ec2 = boto3.client("ec2")
    return {"vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]}
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def test_python_handler_has_the_runtime_sdk_and_reaches_the_emulator(emulator, aws):
    vpc_id = aws("ec2").create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    lam = aws("lambda")
    lam.create_function(
        FunctionName="faithful-sdk-probe",
        Runtime="python3.12",
        Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/probe",
        Code={"ZipFile": _zip(HANDLER)},
    )
    answer = lam.invoke(FunctionName="faithful-sdk-probe", Payload=b"{}")
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    assert vpc_id in payload["vpcs"]
