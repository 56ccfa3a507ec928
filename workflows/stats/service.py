"""Statistics for admins (every department) and department leads (theirs): by department, service, month or day.

A period [start, end] (China dates, inclusive) is cut into whole years, whole months and the days left at its
edges; the rollups of those periods are summed by one aggregation (`$group` on the index's prefix), and the few
groups it returns are folded into rows here. A calendar year is therefore one rollup document per department
(or service): the cost follows the number of departments and services, not the number of applications.
"""
from __future__ import annotations

import calendar as months
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from core.actor import Actor
from core.errors import Forbidden, Invalid
from workflows.stats.models import BINS, COUNTERS, HIST_MAX, Rollup

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
        raise Invalid("stats.bad_period", errors=[{"path": "/to", "code": "before_from", "message": "stats.bad_period"}])
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


def _pipeline(q: Query, departments: list[str] | None) -> list[dict]:
    by_service = q.group == "service" or bool(q.service)
    if q.group == "day":
        wanted = [(q.start + timedelta(days=n)).isoformat() for n in range((q.end - q.start).days + 1)]
    elif q.group == "month":   # whole months, or the days of a month the period cuts
        wanted = [p for part in periods(q.start, q.end)
                  for p in (_months_of(part) if len(part) == 4 else [part])]
    else:
        wanted = periods(q.start, q.end)
    match: dict = {"scope": "svc" if by_service else "dept", "period": {"$in": wanted}}
    if departments is not None:
        match["department"] = departments[0] if len(departments) == 1 else {"$in": departments}
    if q.service:
        match["service_code"] = q.service
    key = {"department": "$department", "service": {"d": "$department", "s": "$service_code"},
           "month": "$period", "day": "$period"}[q.group]
    sums = {k: {"$sum": f"${k}"} for k in COUNTERS}
    sums.update({f"h_{b}": {"$sum": f"$h.{b}"} for b in BINS})
    if q.group == "service":
        sums["service_name"] = {"$max": "$service_name"}
    return [{"$match": match}, {"$group": {"_id": key, **sums}}]


def _months_of(year: str) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def report(actor: Actor, q: Query) -> dict:
    departments = _check(actor, q)
    groups: dict = {}
    for doc in Rollup._get_collection().aggregate(_pipeline(q, departments)):
        _id = doc["_id"]
        if q.group == "department":
            key = (("department", _id),)
        elif q.group == "service":
            key = (("department", _id["d"]), ("service_code", _id["s"]), ("service_name", doc.get("service_name", "")))
        else:
            key = (("period", _id[:7] if q.group == "month" else _id),)
        counts = Counter({k: doc.get(k) or 0 for k in COUNTERS})
        counts.update({f"h_{b}": doc.get(f"h_{b}") or 0 for b in BINS})
        groups[key] = groups.get(key, Counter()) + counts if key in groups else counts
    rows = [{**dict(key), **metrics(counts)} for key, counts in groups.items()]
    if q.group in ("month", "day"):
        rows.sort(key=lambda r: r["period"])
    else:
        rows.sort(key=lambda r: (-r["applications"], r.get("service_code", ""), r["department"]))
    total = sum(groups.values(), Counter())
    return {"from": q.start, "to": q.end, "group": q.group, "department": q.department, "service": q.service,
            "rows": rows, "total": metrics(total)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _p90(counts: Counter) -> int | None:
    """The working days within which 90 % of the completed cases got their result (HIST_MAX + 1: more)."""
    total = sum(counts.get(f"h_{b}", 0) for b in BINS)
    if not total:
        return None
    need, seen = 0.9 * total, 0
    for n, b in enumerate(BINS):
        seen += counts.get(f"h_{b}", 0)
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
