"""The working-day calendar: weekends, China's official public holidays and the weekend days that become working
days (调休), one year at a time.

A year comes from the database (`zhangban calendar import FILE`, stored by `import_year`), else from the file
shipped in `workflows/cases/clock/data/<year>.json`, else it is counted as Monday to Friday — and a warning says so in
the log, once per process and year per cache period. Years are cached per process for `CACHE_SECONDS`, so an
import reaches every web process and worker within a minute.

Days are China's calendar days: a UTC time is read in China Standard Time (UTC+8, no daylight saving) to find its
date. Deadlines keep the time of day: 5 working days after Friday 10:00 is the fifth working day's 10:00.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import resources

from jsonschema import Draft202012Validator

from core import audit, clock
from core.actor import Actor
from core.errors import Invalid
from workflows.cases.clock.models import CalendarYear

log = logging.getLogger(__name__)

CACHE_SECONDS = 60

_DAY = {"type": "object", "required": ["date"], "additionalProperties": False, "properties": {
    "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    "name": {"type": "string", "maxLength": 100}}}
SCHEMA = {"type": "object", "required": ["year", "holidays", "workdays"], "properties": {
    "year": {"type": "integer", "minimum": 2000, "maximum": 2200},
    "source": {"type": "string", "maxLength": 500},
    "comment": {"type": "string", "maxLength": 5000},
    "holidays": {"type": "array", "maxItems": 366, "items": _DAY},
    "workdays": {"type": "array", "maxItems": 366, "items": _DAY}}}
_VALIDATOR = Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class Year:
    year: int
    holidays: frozenset
    workdays: frozenset
    origin: str                   # "database", "shipped" or "weekends-only"


# -- reading and checking a year's file ------------------------------------------------------------------------

def _item(path: str, code: str, en: str, zh: str, day: str = "") -> dict:
    out = {"path": path, "code": code, "message": en, "message_en": en, "message_zh": zh}
    if day:
        out["date"] = day
    return out


def check(doc) -> Year:
    """A year's arrangement from its JSON document, or Invalid("calendar.invalid") with one item per problem,
    each naming its JSON pointer and the date."""
    errors = [_item("/" + "/".join(str(p) for p in e.absolute_path), "schema", e.message, f"格式错误：{e.message}")
              for e in sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        raise Invalid("calendar.invalid", errors=errors)
    year, seen, days = doc["year"], {}, {"holidays": set(), "workdays": set()}
    for kind in ("holidays", "workdays"):
        for i, entry in enumerate(doc[kind]):
            text, path = entry["date"], f"/{kind}/{i}/date"
            try:
                day = date.fromisoformat(text)
            except ValueError:
                errors.append(_item(path, "bad_date", f"{text} is not a date", f"{text} 不是有效日期", text))
                continue
            if day.year != year:
                errors.append(_item(path, "wrong_year", f"{text} is not in {year}", f"{text} 不在 {year} 年", text))
            elif day in seen:
                other = seen[day]
                same = other.split("/")[1] == kind
                errors.append(_item(path, "duplicate" if same else "both",
                                    f"{text} is listed twice" if same else f"{text} is both a holiday and a workday",
                                    f"{text} 重复" if same else f"{text} 同时是假日和调休上班日", text))
            elif kind == "workdays" and day.weekday() < 5:
                errors.append(_item(path, "not_weekend", f"{text} is a weekday: a 调休 workday is a Saturday or "
                                                         f"Sunday", f"{text} 是工作日，调休上班日应为周六或周日", text))
            seen.setdefault(day, path)
            days[kind].add(day)
    if errors:
        raise Invalid("calendar.invalid", errors=errors)
    return Year(year, frozenset(days["holidays"]), frozenset(days["workdays"]), "file")


def import_year(actor: Actor, doc) -> CalendarYear:
    """Store (or replace) a year from its JSON document, after `check`."""
    year = check(doc)
    entries = {kind: sorted(({"date": e["date"], "name": e.get("name", "")} for e in doc[kind]),
                            key=lambda e: e["date"]) for kind in ("holidays", "workdays")}
    CalendarYear._get_collection().update_one(
        {"_id": year.year},
        {"$set": {**entries, "source": doc.get("source", ""), "imported_by": actor.user_id,
                  "imported_at": clock.now()}, "$inc": {"version": 1}}, upsert=True)
    audit.record(actor, "calendar.import", "calendar", year.year, holidays=len(year.holidays),
                 workdays=len(year.workdays), source=doc.get("source", ""))
    clear_cache()
    return CalendarYear.objects(id=year.year).first()


def shipped(year: int) -> dict | None:
    """The JSON document of a year shipped with the code, if there is one."""
    try:
        text = resources.files("workflows.cases.clock.data").joinpath(f"{year}.json").read_text("utf-8")
    except (FileNotFoundError, OSError):
        return None
    return json.loads(text)


# -- the cache -------------------------------------------------------------------------------------------------

_cache: dict[int, tuple[float, Year]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _load(year: int) -> Year:
    stored = CalendarYear.objects(id=year).first()
    if stored is not None:
        return Year(year, frozenset(date.fromisoformat(e["date"]) for e in stored.holidays),
                    frozenset(date.fromisoformat(e["date"]) for e in stored.workdays), "database")
    doc = shipped(year)
    if doc is not None:
        found = check(doc)
        return Year(year, found.holidays, found.workdays, "shipped")
    log.warning("working-day calendar: no calendar for %s (none imported, none shipped); counting Monday to "
                "Friday as working days — import one with `zhangban calendar import FILE`", year)
    return Year(year, frozenset(), frozenset(), "weekends-only")


def year_of(year: int) -> Year:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(year)
    if hit and hit[0] > now:
        return hit[1]
    found = _load(year)
    with _lock:
        _cache[year] = (now + CACHE_SECONDS, found)
    return found


# -- counting --------------------------------------------------------------------------------------------------

def is_working_day(day: date) -> bool:
    cal = year_of(day.year)
    if day in cal.holidays:
        return False
    return day in cal.workdays or day.weekday() < 5


def local(at: datetime) -> datetime:
    """A time (naive ones are UTC, as MongoDB returns them) in China Standard Time."""
    return clock.china(at)


def add_working_days(start: datetime, days: float) -> datetime:
    """The time `days` working days after `start` (UTC, aware): the same time of day on the `days`-th working
    day after start's date; a fraction adds that part of 24 hours (0.75 of a day is 18 hours)."""
    if days < 0:
        raise ValueError(f"negative working days: {days}")
    whole = int(days)
    at = local(start)
    day, left = at.date(), whole
    while left:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    moved = datetime.combine(day, at.timetz())
    return (moved + timedelta(days=days - whole)).astimezone(timezone.utc)


def working_days_between(start: datetime, end: datetime) -> int:
    """How many working days lie after start's date, up to and including end's date (China time); 0 when end
    is not later. The inverse of `add_working_days`: an application returned on Monday and supplemented on
    Wednesday lost Tuesday and Wednesday, 2 working days."""
    first, last = local(start).date(), local(end).date()
    if last <= first:
        return 0
    return sum(1 for n in range(1, (last - first).days + 1) if is_working_day(first + timedelta(days=n)))
