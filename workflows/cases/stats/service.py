"""Statistics for admins (every department) and department leads (theirs): by department, service, month or day.

A period [start, end] (China dates, inclusive) is cut into whole years, whole months and the days left at its
edges; the rollups of those periods are found on an index and summed into rows here. A calendar year is therefore
one rollup document per department (or service): the cost follows the number of departments and services, not the
number of applications.
"""
from __future__ import annotations

import calendar as months
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from core.actor import Actor
from core.errors import Forbidden, Invalid
from workflows.cases.stats.models import BINS, COUNTERS, HIST_MAX, Rollup

GROUPS = ("department", "service", "month", "day")
MAX_DAYS = 366 * 3          # a report spans at most three years
MAX_DAYS_BY_DAY = 93        # …and at most a quarter when grouped by day


@dataclass(frozen=True)
class Query:
    start: date
    end: date
    group: str = "department"
    department: str | None = None
    service: str | None = None


def periods(start: date, end: date) -> list[str]:
    """[start, end] as the fewest whole years, whole months and days ("2026", "2026-03", "2026-12-05")."""
    out, day = [], start
    while day <= end:
        if day.month == 1 and day.day == 1 and date(day.year, 12, 31) <= end:
            out.append(f"{day.year:04d}")
            day = date(day.year + 1, 1, 1)
            continue
        last = date(day.year, day.month, months.monthrange(day.year, day.month)[1])
        if day.day == 1 and last <= end:
            out.append(day.isoformat()[:7])
            day = last + timedelta(days=1)
            continue
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def _check(actor: Actor, q: Query) -> list[str] | None:
    """The departments the caller may see (None: all), or Forbidden / Invalid."""
    if q.end < q.start:
        raise Invalid("stats.bad_period", errors=[{"path": "/to", "code": "before_from",
                                                   "message": "stats.bad_period"}])
    span = (q.end - q.start).days + 1
    if span > MAX_DAYS or (q.group == "day" and span > MAX_DAYS_BY_DAY):
        raise Invalid("stats.period_too_long", errors=[{"path": "/to", "code": "too_long",
                                                       "message": "stats.period_too_long"}],
                      params={"days": MAX_DAYS_BY_DAY if q.group == "day" else MAX_DAYS})
    if actor.is_admin:
        return [q.department] if q.department else None
    mine = sorted(actor.department_ids("lead"))
    if not mine:
        raise Forbidden("stats.not_allowed")
    if q.department:
        if q.department not in mine:
            raise Forbidden("stats.not_your_department")
        return [q.department]
    return mine


def _wanted(q: Query) -> list[str]:
    if q.group == "day":
        return [(q.start + timedelta(days=n)).isoformat() for n in range((q.end - q.start).days + 1)]
    if q.group == "month":   # whole months, or the days of a month the period cuts
        return [p for part in periods(q.start, q.end) for p in (_months_of(part) if len(part) == 4 else [part])]
    return periods(q.start, q.end)


def _months_of(year: str) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def queries(q: Query, departments: list[str] | None) -> list[dict]:
    """The filters that find the rollups: equalities first and one `$in` (the periods) last, one filter per
    department when they are restricted — the test server answers that shape from an index and scans the whole
    collection for two `$in`s or an `$in` before an equality."""
    wanted = {"$in": _wanted(q)}
    if q.group == "service" or q.service:
        scope = {"scope": "svc", **({"service_code": q.service} if q.service else {})}
    elif departments is None and q.group in ("month", "day"):
        return [{"scope": "all", "period": wanted}]       # one document per period for everything
    else:
        scope = {"scope": "dept"}
    if departments is None:
        return [{**scope, "period": wanted}]
    return [{"scope": scope["scope"], "department": d, **scope, "period": wanted} for d in departments]


def _key(q: Query, doc: dict) -> tuple:
    if q.group == "department":
        return (("department", doc["department"]),)
    if q.group == "service":
        return (("department", doc["department"]), ("service_code", doc["service_code"]))
    return (("period", doc["period"][:7] if q.group == "month" else doc["period"]),)


def report(actor: Actor, q: Query) -> dict:
    """Rows of figures per group and their total. The rollups are read with a plain find and summed here: on the
    test server, `$group` costs several times what reading the same documents does (docs/architecture.md)."""
    departments = _check(actor, q)
    groups: dict = {}
    names: dict = {}
    collection = Rollup._get_collection()
    for where in queries(q, departments):
        for doc in collection.find(where):     # whole documents: a projection costs the test server more
            counts = groups.setdefault(_key(q, doc), Counter())
            for k in COUNTERS:
                counts[k] += doc.get(k) or 0
            for b, n in (doc.get("h") or {}).items():
                counts[f"h_{b}"] += n
            if q.group == "service":
                names[doc["service_code"]] = max(names.get(doc["service_code"], ""), doc.get("service_name") or "")
    rows = [{**dict(key), **metrics(counts)} for key, counts in groups.items()]
    for row in rows:
        if "service_code" in row:
            row["service_name"] = names.get(row["service_code"], "")
    if q.group in ("month", "day"):
        rows.sort(key=lambda r: r["period"])
    else:
        rows.sort(key=lambda r: (-r["applications"], r.get("service_code", ""), r["department"]))
    total = Counter()
    for counts in groups.values():
        total.update(counts)
    return {"from": q.start, "to": q.end, "group": q.group, "department": q.department, "service": q.service,
            "rows": rows, "total": metrics(total)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


_HKEYS = tuple(f"h_{b}" for b in BINS)


def _p90(counts: Counter) -> int | None:
    """The working days within which 90 % of the completed cases got their result (HIST_MAX + 1: more)."""
    bins = [counts[k] for k in _HKEYS]
    total = sum(bins)
    if not total:
        return None
    need, seen = 0.9 * total, 0
    for n, found in enumerate(bins):
        seen += found
        if seen >= need:
            return n
    return HIST_MAX + 1


def metrics(c: Counter) -> dict:
    """The figures of one row from its summed counters; a rate is null when nothing is there to divide."""
    return {
        "applications": c["submitted"], "online": c["online"], "online_rate": _rate(c["online"], c["submitted"]),
        "completed": c["completed"], "approved": c["approved"], "rejected": c["rejected"],
        "withdrawn": c["withdrawn"], "completion_rate": _rate(c["completed"], c["submitted"]),
        "overdue": c["overdue"], "overdue_rate": _rate(c["overdue"], c["completed"]),
        "avg_days": round(c["days_sum"] / c["completed"], 2) if c["completed"] else None,
        "p90_days": _p90(c),
        "rated": c["rated"], "good": c["good"], "bad": c["bad"], "good_rate": _rate(c["good"], c["rated"]),
        "avg_score": round(c["score_sum"] / c["rated"], 2) if c["rated"] else None,
        "first_time": c["first_time"], "first_time_rate": _rate(c["first_time"], c["completed"]),
    }
