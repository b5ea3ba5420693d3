"""core.account: one scope per account and region, and the account's one trail recording every region's buckets."""

from __future__ import annotations

from core.account import account_scopes, is_home
from core.spec import load_environment


def _six() -> dict:
    specs = {n: load_environment(n) for n in ("dev", "staging", "prod")}
    for n in ("dev", "prod"):
        moved = specs[n].with_overrides(suffix="b", region="us-east-2")
        specs[f"{n}-b"] = moved.model_copy(update={"name": f"{n}-b"})
    return specs


def test_each_region_is_a_scope_and_the_first_is_home():
    scopes = account_scopes(_six())
    assert list(scopes) == ["us-east-1", "us-east-2"]
    assert scopes["us-east-2"].environments == ("dev-b", "prod-b")
    assert scopes["us-east-2"].bucket_prefixes == ("payments-dev-b-txlogs-", "payments-prod-b-txlogs-")
    assert is_home(scopes, "us-east-1") and not is_home(scopes, "us-east-2")


def test_the_trail_records_every_transaction_bucket_of_the_account():
    scopes = account_scopes(_six())
    everyone = [
        "arn:aws:s3:::payments-dev-main-txlogs-",
        "arn:aws:s3:::payments-staging-main-txlogs-",
        "arn:aws:s3:::payments-prod-main-txlogs-",
        "arn:aws:s3:::payments-dev-b-txlogs-",
        "arn:aws:s3:::payments-prod-b-txlogs-",
    ]
    assert scopes["us-east-1"].data_event_arn_prefixes() == everyone
    assert sorted(scopes["us-east-2"].data_event_arn_prefixes()) == sorted(everyone)


def test_another_account_is_its_own_home():
    specs = _six()
    other = specs["prod-b"].model_copy(update={"account_id": "111122223333"})
    specs["prod-b"] = other
    scopes = account_scopes(specs)
    assert list(scopes) == ["us-east-1", "us-east-2", "111122223333-us-east-2"]
    assert is_home(scopes, "111122223333-us-east-2")
    assert scopes["111122223333-us-east-2"].data_event_arn_prefixes() == ["arn:aws:s3:::payments-prod-b-txlogs-"]
    assert "arn:aws:s3:::payments-prod-b-txlogs-" not in scopes["us-east-1"].data_event_arn_prefixes()
