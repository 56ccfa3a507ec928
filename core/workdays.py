"""China's working days, the one definition every room uses: the legal clock of a case (workflows/cases/clock) and
the helpers BPMN scripts, conditions and timers call (workflows/bpmn/helpers.py).

A year comes from the database (`calendar_years`, written by `zhangban calendar import FILE`), else from the file
shipped in `core/workdays_data/<year>.json`, else it is counted as Monday to Friday — and a warning says so in the
log, once per process and year per cache period. A year is official unless its document says `"provisional": true`
(a file made before the State Council's notice: weekends, statutory holidays and their 补假, no 调休 working
weekends) or it is counted weekends-only.

The database's years are read together, in one query, at most once per `CACHE_SECONDS` per process (`refresh`), so
an import reaches every web process and worker within a minute. Callers that must not touch the database — a BPMN
script inside the sandbox's CPU budget — pass `load=False` and read what the process last loaded; the engine
refreshes before an action's budget starts (workflows/bpmn/sandbox.py `action_budget`).

Days are China's calendar days: a UTC time is read in China time (core.clock) to find its date. Deadlines keep the
time of day: 5 working days after Friday 10:00 is the fifth working day's 10:00.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources

import mongoengine as me

from core import clock

log = logging.getLogger(__name__)

CACHE_SECONDS = 60
DATABASE, SHIPPED, WEEKENDS_ONLY = "database", "shipped", "weekends-only"


class CalendarYear(me.Document):
    """Days off (放假) and weekend days that are working days (调休上班) of one year; every other Saturday and
    Sunday is a day off, every other weekday a working day. Replaced whole by each import."""
    id = me.IntField(primary_key=True)                   # the year
    holidays = me.ListField(me.DictField())              # {date: "2026-10-01", name: "国庆节"}
    workdays = me.ListField(me.DictField())              # {date: "2026-10-10", name: "国庆节调休上班"}
    source = me.StringField(default="", max_length=500)  # where the arrangement comes from (the notice)
    provisional = me.BooleanField(default=False)         # made before the notice: not official
    imported_by = me.StringField(default="")
    imported_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "calendar_years"}


@dataclass(frozen=True)
class Year:
    year: int
    holidays: frozenset
    workdays: frozenset
    origin: str                   # "database", "shipped" or "weekends-only"
    provisional: bool = False
    source: str = ""

    @property
    def official(self) -> bool:
        return self.origin != WEEKENDS_ONLY and not self.provisional

    def works(self, day: date) -> bool:
        """A day of this year is a working day: not a holiday, and a weekday or a 调休 working weekend day."""
        return day not in self.holidays and (day in self.workdays or day.weekday() < 5)


def _days(entries) -> frozenset:
    return frozenset(date.fromisoformat(e["date"]) for e in entries)


def from_document(doc: dict, origin: str) -> Year:
    """A year from a stored or shipped document (already checked: `workflows/cases/clock/calendar.py` `check`)."""
    year = int(doc.get("year", doc.get("_id")))
    return Year(year, _days(doc.get("holidays", ())), _days(doc.get("workdays", ())), origin,
                bool(doc.get("provisional", False)), doc.get("source", ""))


# -- shipped files ---------------------------------------------------------------------------------------------

def shipped(year: int) -> dict | None:
    """The JSON document of a year shipped with the code, if there is one."""
    try:
        text = resources.files("core.workdays_data").joinpath(f"{year}.json").read_text("utf-8")
    except (FileNotFoundError, OSError):
        return None
    return json.loads(text)


@lru_cache(maxsize=None)
def shipped_years() -> tuple[int, ...]:
    return tuple(sorted(int(p.name[:4]) for p in resources.files("core.workdays_data").iterdir()
                        if re.fullmatch(r"\d{4}\.json", p.name)))


@lru_cache(maxsize=None)
def _shipped_year(year: int) -> Year | None:
    doc = shipped(year) if year in shipped_years() else None
    return from_document(doc, SHIPPED) if doc is not None else None


# -- the database's years, cached ------------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict = {"years": {}, "expires": 0.0}   # replaced whole by `refresh`: readers never see it half-made
_warned: dict[int, float] = {}


def _stored() -> dict[int, Year]:
    return _loaded["years"]


def clear_cache() -> None:
    with _lock:
        _loaded.update(years={}, expires=0.0)
        _warned.clear()


def refresh(force: bool = False, quiet: bool = False) -> None:
    """Read the database's years again if the copy is older than `CACHE_SECONDS` (one query). `quiet`: a failure
    is logged and the process goes on with what it had (tried again a period later), instead of raising."""
    now = time.monotonic()
    if not force and _loaded["expires"] > now:
        return
    try:
        found = {doc["_id"]: from_document(doc, DATABASE)
                 for doc in CalendarYear._get_collection().find({}, {"imported_by": 0, "imported_at": 0})}
    except Exception:
        if not quiet:
            raise
        log.warning("working-day calendar: the database's years could not be read; using those read before "
                    "and the shipped files", exc_info=True)
        _loaded["expires"] = now + CACHE_SECONDS
        return
    with _lock:
        _loaded.update(years=found, expires=now + CACHE_SECONDS)


def year_of(year: int, load: bool = True) -> Year:
    """The year's arrangement: imported, else shipped, else weekends only (logged). `load=False` never reads the
    database (what this process read last counts)."""
    if load:
        refresh()
    found = _stored().get(year) or _shipped_year(year)
    if found is not None:
        return found
    now = time.monotonic()
    if _warned.get(year, 0.0) <= now:
        _warned[year] = now + CACHE_SECONDS
        log.warning("working-day calendar: no calendar for %s (none imported, none shipped); counting Monday to "
                    "Friday as working days — import one with `zhangban calendar import FILE`", year)
    return Year(year, frozenset(), frozenset(), WEEKENDS_ONLY)


def known_years(load: bool = True) -> list[Year]:
    """Every year imported or shipped, in order."""
    if load:
        refresh()
    years = set(_stored()) | set(shipped_years())
    return [year_of(y, load=False) for y in sorted(years)]


def status(today: date | None = None, load: bool = True) -> dict:
    """What `/readyz` and `/metrics` show: the years known, and whether this year and next are official."""
    today = today or clock.china_today()
    years = {y.year: y for y in known_years(load)}
    this, following = years.get(today.year), years.get(today.year + 1)
    return {"years": [{"year": y.year, "origin": y.origin, "official": y.official} for y in years.values()],
            "this_year_official": bool(this and this.official),
            "next_year": today.year + 1, "next_year_official": bool(following and following.official)}


# -- counting days ---------------------------------------------------------------------------------------------

def is_working_day(day: date, load: bool = True) -> bool:
    return year_of(day.year, load).works(day)


def add_days(day: date, n: int, load: bool = True) -> date:
    """The `n`-th working day after `day` (before it, for a negative n)."""
    step, left = (1 if n >= 0 else -1), abs(int(n))
    if load:
        refresh()
    cal = year_of(day.year, load=False)
    while left:
        day += timedelta(days=step)
        if day.year != cal.year:
            cal = year_of(day.year, load=False)
        if cal.works(day):
            left -= 1
    return day


def _weekdays_after(a: date, b: date) -> int:
    """Mondays to Fridays after a up to and including b (a <= b)."""
    weeks, rest = divmod((b - a).days, 7)
    return weeks * 5 + sum(1 for i in range(1, rest + 1) if (a + timedelta(days=i)).weekday() < 5)


def count(a: date, b: date, load: bool = True) -> int:
    """Working days after a up to and including b; negative when b is earlier. Cost: the years known, not the
    span (a year without a calendar is Monday to Friday)."""
    if b < a:
        return -count(b, a, load)
    if load:
        refresh()
    total = _weekdays_after(a, b)
    known = (set(_stored()) | set(shipped_years())) & set(range(a.year, b.year + 1)) if b.year - a.year > 20 \
        else range(a.year, b.year + 1)
    for y in known:
        cal = year_of(y, load=False)
        total -= sum(1 for d in cal.holidays if a < d <= b and d.weekday() < 5)
        total += sum(1 for d in cal.workdays if a < d <= b and d.weekday() >= 5)
    return total


def add_working_days(start: datetime, days: float) -> datetime:
    """The time `days` working days after `start` (UTC, aware): the same time of day on the `days`-th working
    day after start's date; a fraction adds that part of 24 hours (0.75 of a day is 18 hours)."""
    if days < 0:
        raise ValueError(f"negative working days: {days}")
    whole = int(days)
    at = clock.china(start)
    moved = datetime.combine(add_days(at.date(), whole), at.timetz())
    return (moved + timedelta(days=days - whole)).astimezone(timezone.utc)


def working_days_between(start: datetime, end: datetime) -> int:
    """How many working days lie after start's date, up to and including end's date (China time); 0 when end
    is not later. The inverse of `add_working_days`: an application returned on Monday and supplemented on
    Wednesday lost Tuesday and Wednesday, 2 working days."""
    first, last = clock.china(start).date(), clock.china(end).date()
    return count(first, last) if last > first else 0
