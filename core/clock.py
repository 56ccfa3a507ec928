"""Time and ids: UTC everywhere it is stored, China time wherever a day or an hour means something to a person
(a case number's date, a working day, a message's time); ObjectIds rendered as strings.

The rule: a China date or hour comes from `china()` / `china_today()` here, never from `datetime.now()`, `date.today()`
or the server's zone (grep: `astimezone(` and `today(` outside this module)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from bson import ObjectId
from bson.errors import InvalidId


CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")   # no daylight saving since 1991: a fixed offset is exact


def now() -> datetime:
    """The current UTC time, to the millisecond (what MongoDB keeps), timezone-aware."""
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def as_utc(value: datetime) -> datetime:
    """MongoDB returns naive datetimes that are UTC; make them aware."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def china(at: datetime | None = None) -> datetime:
    """`at` (default: now) in China time."""
    return as_utc(at if at is not None else now()).astimezone(CHINA)


def china_today() -> date:
    """Today's date in China, whatever the server's zone."""
    return china().date()


# Due marks (`stats_due_at`, `next_timer_at`, `lease_until` …) are read as a range bounded on both sides: the
# embedded database uses an index only for such a range — `$type`, a one-sided `$lte` (it walks the nulls first) or
# a top-level `$or` made it read the whole collection on every worker round — and MongoDB answers it from the same
# index. Every due mark is later than this.
DUE_FLOOR = datetime(2000, 1, 1, tzinfo=timezone.utc)


def due_by(at: datetime) -> dict:
    """The query clause "a due mark at or before `at`" (not null, not missing)."""
    return {"$gte": DUE_FLOOR, "$lte": at}


def free_at(at: datetime) -> dict:
    """The query clause "no live lease at `at`": none (null or missing) or one run out — without a `$or`."""
    return {"$not": {"$gte": at}}


def parse_id(value) -> ObjectId | None:
    """An ObjectId from its string, or None for anything that is not one (callers answer 404)."""
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        return None
