"""Time and ids: UTC everywhere, ObjectIds rendered as strings."""
from __future__ import annotations

from datetime import datetime, timezone

from bson import ObjectId
from bson.errors import InvalidId


def now() -> datetime:
    """The current UTC time, to the millisecond (what MongoDB keeps), timezone-aware."""
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def as_utc(value: datetime) -> datetime:
    """MongoDB returns naive datetimes that are UTC; make them aware."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_id(value) -> ObjectId | None:
    """An ObjectId from its string, or None for anything that is not one (callers answer 404)."""
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        return None
