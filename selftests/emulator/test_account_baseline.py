"""An account baseline's five resource types on one stack: create, Ref/GetAtt, DetectStackDrift, delete.

Covers emulator/faithful/{trails,guardduty,securityhub,accessanalyzer}.py together, as a
CloudFormation template declaring a trail with S3 data events, a GuardDuty detector, a
Security Hub hub with PCI DSS v4.0.1, and an IAM Access Analyzer is deployed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from selftests.emulator.platform import settled_stack

STACK = "account-baseline-selftest"
BUCKET = "account-baseline-selftest-logs"
PCI = "arn:aws:securityhub:us-east-1::standards/pci-dss/v/4.0.1"
MANAGEMENT: dict[str, Any] = {
    "Name": "Management",
    "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
}


def _template() -> dict[str, Any]:
    cloudtrail = {"Service": "cloudtrail.amazonaws.com"}
    trail_arn = "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/baseline"
    objects: dict[str, Any] = {"Name": "Card data objects", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "resources.ARN", "StartsWith": [{"Fn::Sub": "${Logs.Arn}/"}]},
    ]}  # fmt: skip
    resources = {
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}},
        "LogsPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Logs"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": cloudtrail, "Action": "s3:GetBucketAcl",
                 "Resource": {"Fn::GetAtt": ["Logs", "Arn"]}},
                {"Effect": "Allow", "Principal": cloudtrail, "Action": "s3:PutObject",
                 "Resource": {"Fn::Sub": "${Logs.Arn}/AWSLogs/${AWS::AccountId}/*"},
                 "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                                "aws:SourceArn": {"Fn::Sub": trail_arn}}}},
            ]},
        }},
        "Trail": {"Type": "AWS::CloudTrail::Trail", "DependsOn": "LogsPolicy", "Properties": {
            "TrailName": "baseline", "S3BucketName": {"Ref": "Logs"}, "IsLogging": True,
            "IsMultiRegionTrail": True, "EnableLogFileValidation": True, "IncludeGlobalServiceEvents": True,
            "AdvancedEventSelectors": [MANAGEMENT, objects],
        }},
        "Detector": {"Type": "AWS::GuardDuty::Detector", "Properties": {"Enable": True, "Features": [
            {"Name": "RUNTIME_MONITORING", "Status": "ENABLED",
             "AdditionalConfiguration": [{"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "Status": "ENABLED"}]},
            {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
        ]}},
        "Hub": {"Type": "AWS::SecurityHub::Hub", "Properties": {"EnableDefaultStandards": False}},
        "Pci": {"Type": "AWS::SecurityHub::Standard", "DependsOn": "Hub", "Properties": {
            "StandardsArn": {"Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}::standards/pci-dss/v/4.0.1"},
        }},
        "Analyzer": {"Type": "AWS::AccessAnalyzer::Analyzer", "Properties": {"Type": "ACCOUNT"}},
    }  # fmt: skip
    outputs: dict[str, Any] = {
        name: {"Value": {"Ref": name}} for name in ("Trail", "Detector", "Hub", "Pci", "Analyzer")
    }
    outputs["TrailArn"] = {"Value": {"Fn::GetAtt": ["Trail", "Arn"]}}
    outputs["AnalyzerArn"] = {"Value": {"Fn::GetAtt": ["Analyzer", "Arn"]}}
    return {"Resources": resources, "Outputs": outputs}


def _drift(cfn: Any) -> tuple[str, dict[str, dict[str, Any]]]:
    detection = cfn.detect_stack_drift(StackName=STACK)["StackDriftDetectionId"]
    deadline = time.monotonic() + 30
    while (status := cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection))[
        "DetectionStatus"
    ] == "DETECTION_IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status["DetectionStatus"] == "DETECTION_COMPLETE", status
    drifts = cfn.describe_stack_resource_drifts(StackName=STACK)["StackResourceDrifts"]
    return status["StackDriftStatus"], {d["LogicalResourceId"]: d for d in drifts}


def _paths(drift: dict[str, Any]) -> set[str]:
    return {p["PropertyPath"] for p in drift.get("PropertyDifferences", [])}


def test_baseline_stack_creates_reads_drifts_and_deletes(emulator, aws):
    emulator.reset()
    cfn, ct, gd, sh, aa = (
        aws(s) for s in ("cloudformation", "cloudtrail", "guardduty", "securityhub", "accessanalyzer")
    )
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(_template()))
    stack = settled_stack(cfn, STACK)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert out["Trail"] == "baseline"
    assert out["TrailArn"] == "arn:aws:cloudtrail:us-east-1:000000000000:trail/baseline"
    assert gd.list_detectors()["DetectorIds"] == [out["Detector"]]
    assert out["Hub"] == "arn:aws:securityhub:us-east-1:000000000000:hub/default"
    assert out["Pci"] == "arn:aws:securityhub:us-east-1:000000000000:subscription/pci-dss/v/4.0.1"
    assert out["Analyzer"] == out["AnalyzerArn"]
    assert out["Analyzer"].startswith(f"arn:aws:access-analyzer:us-east-1:000000000000:analyzer/{STACK}-Analyzer-")

    # what the account suite reads, as AWS answers it
    trail = ct.describe_trails(trailNameList=["baseline"])["trailList"][0]
    assert (trail["IsMultiRegionTrail"], trail["LogFileValidationEnabled"], trail["IncludeGlobalServiceEvents"]) == (
        True, True, True)  # fmt: skip
    status = ct.get_trail_status(Name="baseline")
    assert status["IsLogging"] is True and status["LatestDeliveryTime"]
    selectors = ct.get_event_selectors(TrailName="baseline")["AdvancedEventSelectors"]
    assert selectors[1]["FieldSelectors"][2] == {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{BUCKET}/"]}
    detector = gd.get_detector(DetectorId=out["Detector"])
    runtime = next(f for f in detector["Features"] if f["Name"] == "RUNTIME_MONITORING")
    assert runtime["Status"] == "ENABLED"
    assert {"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "Status": "ENABLED"}.items() <= next(
        c for c in runtime["AdditionalConfiguration"] if c["Name"] == "ECS_FARGATE_AGENT_MANAGEMENT"
    ).items()
    standards = sh.get_enabled_standards()["StandardsSubscriptions"]
    assert [(s["StandardsArn"], s["StandardsStatus"]) for s in standards] == [(PCI, "READY")]
    assert aa.get_analyzer(analyzerName=out["Analyzer"].rpartition("/")[2])["analyzer"]["status"] == "ACTIVE"

    drift_status, drifts = _drift(cfn)
    assert drift_status == "IN_SYNC", {k: d.get("PropertyDifferences") for k, d in drifts.items()}
    for name in ("Trail", "Detector", "Hub", "Pci", "Analyzer"):
        assert drifts[name]["StackResourceDriftStatus"] == "IN_SYNC"

    # drift through the API, as a drift of the account suite does
    ct.update_trail(Name="baseline", EnableLogFileValidation=False, IsMultiRegionTrail=False)
    ct.stop_logging(Name="baseline")
    ct.put_event_selectors(TrailName="baseline", AdvancedEventSelectors=[MANAGEMENT])
    gd.update_detector(DetectorId=out["Detector"], Features=[{"Name": "RUNTIME_MONITORING", "Status": "ENABLED",
        "AdditionalConfiguration": [{"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "Status": "DISABLED"}]}])  # fmt: skip
    sh.batch_disable_standards(StandardsSubscriptionArns=[out["Pci"]])
    aa.delete_analyzer(analyzerName=out["Analyzer"].rpartition("/")[2])
    drift_status, drifts = _drift(cfn)
    assert drift_status == "DRIFTED"
    assert drifts["Trail"]["StackResourceDriftStatus"] == "MODIFIED"
    assert {"/IsLogging", "/IsMultiRegionTrail", "/EnableLogFileValidation", "/AdvancedEventSelectors/1"} <= _paths(
        drifts["Trail"]
    )
    assert _paths(drifts["Detector"]) == {"/Features/0/AdditionalConfiguration/0/Status"}
    assert drifts["Pci"]["StackResourceDriftStatus"] == drifts["Analyzer"]["StackResourceDriftStatus"] == "DELETED"
    assert drifts["Hub"]["StackResourceDriftStatus"] == "IN_SYNC"

    # the delivered log files keep the bucket from being deleted, as on AWS: empty it first
    s3 = aws("s3")
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    cfn.delete_stack(StackName=STACK)
    assert settled_stack(cfn, STACK)["StackStatus"] == "DELETE_COMPLETE"
    assert ct.describe_trails()["trailList"] == [] and gd.list_detectors()["DetectorIds"] == []
    assert aa.list_analyzers()["analyzers"] == []
    emulator.reset()
