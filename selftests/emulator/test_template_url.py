"""emulator/faithful/template_url.py: TemplateURL in the forms AWS accepts, read from the emulator's own S3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from emulator.faithful.template_url import locate

BUCKET = "tu-artifacts"
# over CloudFormation's 51,200-byte inline limit, under its 1,000,000-byte limit from S3
BIG = json.dumps(
    {"Metadata": {"Padding": "x" * 60_000}, "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}}},
    separators=(",", ":"),
)


@pytest.fixture
def stored(emulator, aws):
    emulator.reset()
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="templates/big template.json", Body=BIG.encode())
    return emulator.endpoint_url


FORMS = {
    "path-style on the emulator": "{endpoint}/{bucket}/templates/big%20template.json",
    "virtual-hosted, regional": "https://{bucket}.s3.us-east-1.amazonaws.com/templates/big%20template.json",
    "virtual-hosted, global": "https://{bucket}.s3.amazonaws.com/templates/big%20template.json",
    "path-style, regional": "https://s3.us-east-1.amazonaws.com/{bucket}/templates/big%20template.json",
    "path-style, legacy dash": "https://s3-us-east-1.amazonaws.com/{bucket}/templates/big%20template.json",
    "path-style, global": "https://s3.amazonaws.com/{bucket}/templates/big%20template.json",
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_template_over_the_inline_limit_deploys_by_url(stored, aws, form):
    cfn = aws("cloudformation")
    url = FORMS[form].format(endpoint=stored, bucket=BUCKET)
    cfn.create_stack(StackName="tu-big", TemplateURL=url)
    stack = cfn.describe_stacks(StackName="tu-big")["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE"), stack
    # GetTemplate hands back the very body that was read from S3
    assert cfn.get_template(StackName="tu-big", TemplateStage="Original")["TemplateBody"] == json.loads(BIG)


def test_the_same_body_inline_is_refused(stored, aws):
    assert len(BIG.encode()) > 51_200
    with pytest.raises(ClientError, match="51200"):
        aws("cloudformation").create_stack(StackName="tu-inline", TemplateBody=BIG)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/{bucket}/templates/big%20template.json", "TemplateURL must be a supported URL."),
        ("s3://{bucket}/templates/big%20template.json", "TemplateURL must be a supported URL."),
        ("{endpoint}/{bucket}/templates/missing.json", "TemplateURL must reference a valid S3 object"),
        ("https://no-such-bucket.s3.us-east-1.amazonaws.com/templates/big%20template.json", "valid S3 object"),
    ],
)
def test_urls_aws_refuses_are_refused(stored, aws, url, message):
    with pytest.raises(ClientError, match=message):
        aws("cloudformation").create_stack(StackName="tu-bad", TemplateURL=url.format(endpoint=stored, bucket=BUCKET))


def test_a_change_set_reads_its_template_by_url_too(stored, aws):
    cfn = aws("cloudformation")
    url = f"https://{BUCKET}.s3.us-east-1.amazonaws.com/templates/big%20template.json"
    cfn.create_change_set(StackName="tu-cs", ChangeSetName="first", ChangeSetType="CREATE", TemplateURL=url)
    assert cfn.describe_change_set(StackName="tu-cs", ChangeSetName="first")["ChangeSetName"] == "first"


def test_locate_names_bucket_key_and_version():
    assert locate("https://b.c.s3.eu-west-1.amazonaws.com/k/x%2By.json?versionId=v1") == ("b.c", "k/x+y.json", "v1")
    assert locate("https://s3.dualstack.eu-west-1.amazonaws.com/bkt/k") == ("bkt", "k", None)
    assert locate("https://bkt.s3.cn-north-1.amazonaws.com.cn/k") == ("bkt", "k", None)
    assert locate("http://localhost:4566/bkt/k") == ("bkt", "k", None)
    assert locate("https://s3.amazonaws.com/b") is None  # no key
    assert locate("https://s3.amazonaws.com.evil.example/b/k") is None
