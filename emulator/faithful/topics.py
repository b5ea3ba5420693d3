"""SNS: a topic's access policy as AWS sets it by default and when a topic policy goes away.

Gaps in MiniStack 1.5.33 (measured against the platform template and the API):

1. A topic created by CloudFormation got a default policy granting ``SNS:Publish``,
   ``SNS:Subscribe`` and ``SNS:Receive`` to ``{"AWS": "*"}`` with **no condition**: open to
   every AWS account. AWS's default policy (``__default_policy_ID``) grants the topic owner's
   account the eight topic actions (``GetTopicAttributes``, ``SetTopicAttributes``,
   ``AddPermission``, ``RemovePermission``, ``DeleteTopic``, ``Subscribe``,
   ``ListSubscriptionsByTopic``, ``Publish``) to ``{"AWS": "*"}`` under
   ``StringEquals AWS:SourceOwner <account>``. ``CreateTopic`` had the condition but the same
   three actions (``SNS:Receive`` is no SNS action). -> :func:`default_policy` for both.
2. Deleting an ``AWS::SNS::TopicPolicy`` (or dropping a topic from its ``Topics``) removed the
   ``Policy`` attribute altogether; on AWS the topic goes back to the default policy.

Checked and already faithful: ``AWS::SNS::TopicPolicy`` writes its document on each topic
(``GetTopicAttributes`` ``Policy``), ``SetTopicAttributes Policy`` replaces it.
"""

from __future__ import annotations

import json
from typing import Any

from faithful._ministack import resource_handlers
from ministack.services import sns as _sns
from ministack.services.cloudformation import provisioners as _prov

ACTIONS = (
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
)
_orig: dict[str, Any] = {}


def default_policy(arn: str) -> str:
    """The policy AWS gives a topic that has no other (the owner's account, by ``AWS:SourceOwner``)."""
    account = arn.split(":")[4]
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": list(ACTIONS),
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        }
    )


def _is_ministack_default(policy: str | None) -> bool:
    try:
        doc = json.loads(policy or "")
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("Id") == "__default_policy_ID"


def _fix(arn: str) -> None:
    topic = _sns._topics.get(arn)
    if topic is not None:
        attributes = topic.setdefault("attributes", {})
        if not attributes.get("Policy") or _is_ministack_default(attributes.get("Policy")):
            attributes["Policy"] = default_policy(arn)


def _sns_create(logical_id, props, stack_name):
    arn, attrs = _orig["cfn_create"](logical_id, props, stack_name)
    _fix(arn)
    return arn, attrs


def _create_topic(params):
    response = _orig["create_topic"](params)
    name = _sns._p(params, "Name")
    explicit = any(
        _sns._p(params, f"Attributes.entry.{i}.key") == "Policy" for i in range(1, 11)
    )  # a Policy given at creation is kept as given
    if name and not explicit:
        _fix(f"arn:aws:sns:{_sns.get_region()}:{_sns.get_account_id()}:{name}")
    return response


def _topic_policy_delete(physical_id, props):
    _orig["policy_delete"](physical_id, props)
    for arn in props.get("Topics", []):
        _fix(arn)


def _topic_policy_update(physical_id, old_props, new_props, stack_name):
    result = _orig["policy_update"](physical_id, old_props, new_props, stack_name)
    for arn in old_props.get("Topics", []):
        _fix(arn)  # a topic dropped from the list: back to the default
    return result


def install() -> None:
    if _orig:
        return
    _orig.update(
        cfn_create=_prov._sns_create,
        create_topic=_sns._create_topic,
        policy_delete=_prov._sns_topic_policy_delete,
        policy_update=_prov._sns_topic_policy_update,
    )
    _prov._sns_create = _sns_create
    resource_handlers()["AWS::SNS::Topic"]["create"] = _sns_create
    _sns._create_topic = _create_topic
    _prov._sns_topic_policy_delete = _topic_policy_delete
    _prov._sns_topic_policy_update = _topic_policy_update
    resource_handlers()["AWS::SNS::TopicPolicy"].update(delete=_topic_policy_delete, update=_topic_policy_update)
