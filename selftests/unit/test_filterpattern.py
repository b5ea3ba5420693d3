"""tests/account/filterpattern.py reads CloudWatch Logs JSON filter patterns as CloudWatch Logs applies
them, and the account baseline's CIS 4.1-4.15 patterns match every event tests/account/monitoring.py names."""

from __future__ import annotations

import pytest

from core.account import ACCOUNT_TEMPLATE_PATH
from core.template import load_template
from tests.account.filterpattern import PatternError, compile_pattern, matches
from tests.account.monitoring import ITEMS


def test_grammar():
    event = {"eventName": "ConsoleLogin", "errorCode": "Client.UnauthorizedOperation", "n": 3,
             "userIdentity": {"type": "Root"}, "flag": True, "list": [{"a": "x"}]}  # fmt: skip
    assert matches('{ $.eventName = "ConsoleLogin" }', event)
    assert matches("{ $.eventName = ConsoleLogin }", event)
    assert matches('{ $.errorCode = "*UnauthorizedOperation" }', event)
    assert not matches('{ $.errorCode = "AccessDenied*" }', event)
    assert matches('{ ($.n > 2) && ($.n <= 3) && $.list[0].a = "x" }', event)
    assert matches("{ $.userIdentity.invokedBy NOT EXISTS && $.userIdentity.type = Root }", event)
    assert not matches("{ $.userIdentity.type EXISTS && $.missing != x }", event)  # a missing field: false
    assert matches("{ $.flag IS TRUE }", event)
    # && binds tighter than ||
    assert matches("{ $.eventName = Nope && $.n = 4 || $.n = 3 }", event)
    assert not matches("{ $.eventName = Nope && ($.n = 4 || $.n = 3) }", event)
    for bad in ("ERROR", "{ $.a = }", "{ ($.a = b }", "{ a = b }"):
        with pytest.raises(PatternError):
            compile_pattern(bad)
        assert not matches(bad, event)


def _baseline_patterns() -> dict[str, str]:
    resources = load_template(ACCOUNT_TEMPLATE_PATH)["Resources"]
    return {
        str(r["Properties"]["FilterName"]).split("-")[1]: str(r["Properties"]["FilterPattern"])
        for r in resources.values()
        if r["Type"] == "AWS::Logs::MetricFilter"
    }


def test_baseline_patterns_match_every_item_event_and_weakening_shows():
    patterns = _baseline_patterns()
    assert sorted(patterns, key=lambda k: int(k.split(".")[1])) == [i.cis for i in ITEMS]
    for item in ITEMS:
        missed = [e["eventName"] for e in item.events if not matches(patterns[item.cis], e)]
        assert not missed, (item.cis, missed)
    weakened = patterns["4.4"].replace(" || ($.eventName = DetachGroupPolicy)", "")
    assert weakened != patterns["4.4"]
    assert not matches(weakened, next(e for e in ITEMS[3].events if e["eventName"] == "DetachGroupPolicy"))
    # 4.1 ignores S3's log delivery and HeadBucket, as CIS's pattern does
    denied = {"errorCode": "AccessDenied", "sourceIPAddress": "delivery.logs.amazonaws.com", "eventName": "PutObject"}
    assert not matches(patterns["4.1"], denied)
