"""Read a trail's event selectors the way CloudTrail applies them.

Two questions: does the trail record management events, read and write; and does it record
S3 object-level events, read and write, for every object of a given bucket. Basic selectors
(``EventSelectors``) and advanced ones (``AdvancedEventSelectors``: each selector's field
selectors are ANDed, the selectors ORed) are both read. A restriction the reading cannot
prove harmless (an ``eventName`` filter, an ``Equals`` on single objects, a ``NotStartsWith``
that touches the bucket) counts as not covering: the check asks for every access to card data.
"""

from __future__ import annotations

from typing import Any

BOTH = frozenset({"read", "write"})


def _values(selector: dict[str, Any], key: str) -> list[str]:
    return [str(v) for v in selector.get(key) or []]


def _read_write(fields: list[dict[str, Any]]) -> set[str] | None:
    """The kinds a selector's readOnly field admits (None: not a readOnly field restriction at all)."""
    kinds = set(BOTH)
    for f in fields:
        if f.get("Field") != "readOnly":
            continue
        equals = [v.lower() for v in _values(f, "Equals")]
        not_equals = [v.lower() for v in _values(f, "NotEquals")]
        if equals:
            kinds &= {"read" if v == "true" else "write" for v in equals}
        for v in not_equals:
            kinds.discard("read" if v == "true" else "write")
    return kinds


def management_kinds(selectors: dict[str, Any]) -> set[str]:
    """Which management events (read, write) the trail records."""
    kinds: set[str] = set()
    for sel in selectors.get("EventSelectors") or []:
        if sel.get("IncludeManagementEvents", True):
            rw = sel.get("ReadWriteType", "All")
            kinds |= BOTH if rw == "All" else {"read"} if rw == "ReadOnly" else {"write"}
    for adv in selectors.get("AdvancedEventSelectors") or []:
        fields = adv.get("FieldSelectors") or []
        category = next((f for f in fields if f.get("Field") == "eventCategory"), None)
        if category is None or "Management" not in _values(category, "Equals"):
            continue
        if any(f.get("Field") not in ("eventCategory", "readOnly") for f in fields):
            continue  # an eventSource or other filter: not every management event
        kinds |= _read_write(fields) or set()
    return kinds


def _object_prefix(partition: str, bucket: str) -> str:
    return f"arn:{partition}:s3:::{bucket}/"


def _basic_covers(value: str, partition: str, bucket: str) -> bool:
    """A DataResources value covers every object of the bucket: all buckets, or the bucket's ARN with `/`."""
    return value in (f"arn:{partition}:s3", f"arn:{partition}:s3:::") or value == _object_prefix(partition, bucket)


def _arn_field_covers(field: dict[str, Any], partition: str, bucket: str) -> bool:
    prefix = _object_prefix(partition, bucket)
    for key in ("Equals", "EndsWith"):
        if _values(field, key):
            return False  # single objects or suffixes: not every object
    for value in _values(field, "NotStartsWith"):
        if prefix.startswith(value) or value.startswith(prefix):
            return False
    for key in ("NotEquals", "NotEndsWith"):
        if _values(field, key):
            return False  # excludes some objects the reading cannot rule out
    starts = _values(field, "StartsWith")
    return not starts or any(prefix.startswith(v) for v in starts)


def data_event_kinds(selectors: dict[str, Any], partition: str, bucket: str) -> set[str]:
    """Which S3 object-level events (read, write) the trail records for every object of ``bucket``."""
    kinds: set[str] = set()
    for sel in selectors.get("EventSelectors") or []:
        for res in sel.get("DataResources") or []:
            if res.get("Type") != "AWS::S3::Object":
                continue
            if any(_basic_covers(v, partition, bucket) for v in _values(res, "Values")):
                rw = sel.get("ReadWriteType", "All")
                kinds |= BOTH if rw == "All" else {"read"} if rw == "ReadOnly" else {"write"}
    for adv in selectors.get("AdvancedEventSelectors") or []:
        fields = adv.get("FieldSelectors") or []
        by_name = {f.get("Field"): f for f in fields}
        if set(by_name) - {"eventCategory", "resources.type", "resources.ARN", "readOnly"}:
            continue  # eventName, eventSource, userIdentity filters: not every access
        category, rtype = by_name.get("eventCategory"), by_name.get("resources.type")
        if category is None or "Data" not in _values(category, "Equals"):
            continue
        if rtype is None or "AWS::S3::Object" not in _values(rtype, "Equals"):
            continue
        arn = by_name.get("resources.ARN")
        if arn is not None and not _arn_field_covers(arn, partition, bucket):
            continue
        kinds |= _read_write(fields) or set()
    return kinds
