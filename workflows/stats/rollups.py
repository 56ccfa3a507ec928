"""Keeping the rollups as cases move, and recounting them from the applications.

The hooks (`submitted`, `withdrawn`, `completed`, `rated`) are called after the application (or rating) is
written, the source of truth; each is one bulk write of nine `$inc` upserts. A crash in between leaves the rollups
behind by one case: `zhangban stats rebuild` recounts them from the applications with the same rules
(`contribution` is what a case in its present state adds; the hooks add the same in steps), so a recount and the
kept rollups agree exactly — `differences()` says where they do not.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from pymongo import DeleteMany, UpdateOne
from pymongo.errors import BulkWriteError

from core import clock
from workflows.clock import calendar
from workflows.stats.models import BINS, COUNTERS, HIST_MAX, Rollup

_CASE_FIELDS = ("id", "department", "service_code", "service_name", "status", "channel", "submitted_at",
                "due_at", "result", "timeline")


# -- what a case adds ------------------------------------------------------------------------------------------

def submit_day(app) -> date:
    return calendar.local(app.submitted_at).date()


def handling_days(app) -> int:
    """Working days from submission to the result, less the working days the clock stood still for 补正."""
    paused = sum(e.paused_days or 0 for e in app.timeline if e.action == "supplemented")
    return max(0, calendar.working_days_between(app.submitted_at, app.result.at) - paused)


def on_submit(app) -> Counter:
    return Counter(submitted=1, online=int(getattr(app, "channel", "online") != "offline"))


def on_complete(app) -> Counter:
    days = handling_days(app)
    late = bool(app.due_at and clock.as_utc(app.result.at) > clock.as_utc(app.due_at))
    returned = any(e.action == "returned" for e in app.timeline)
    return Counter({"completed": 1, app.status: 1, "overdue": int(late), "first_time": int(not returned),
                    "days_sum": days, f"h.{BINS[min(days, HIST_MAX + 1)]}": 1})


def on_rate(score: int) -> Counter:
    return Counter(rated=1, good=int(score >= 4), bad=int(score <= 2), score_sum=score)


def contribution(app, score: int | None = None) -> Counter:
    """What a submitted application adds to its rollups in its present state (and its rating's score, if any)."""
    out = on_submit(app)
    if app.status in ("approved", "rejected") and app.result and app.result.at:
        out += on_complete(app)
    elif app.status == "withdrawn":
        out["withdrawn"] += 1
    if score is not None:
        out += on_rate(score)
    return out


# -- writing ---------------------------------------------------------------------------------------------------

def targets(department: str, service_code: str, day: date) -> list[tuple[str, dict]]:
    """The nine documents a case of this department, service and submission day counts in: its day, month and
    year, each for everything (scope `all`), its department and its service."""
    text = day.isoformat()
    out = []
    for period in (text, text[:7], text[:4]):
        for scope, dept, code in (("all", "", ""), ("dept", department, ""), ("svc", department, service_code)):
            out.append((f"{scope}|{period}|{dept}|{code}",
                        {"scope": scope, "period": period, "department": dept, "service_code": code}))
    return out


def _bump(app, inc: Counter) -> None:
    inc = {k: v for k, v in inc.items() if v}
    if not inc or app.submitted_at is None:
        return
    ops = [UpdateOne({"_id": _id}, {"$inc": inc, "$setOnInsert": keys,
                                    "$set": {"service_name": app.service_name if keys["service_code"] else ""}},
                     upsert=True)
           for _id, keys in targets(app.department, app.service_code, submit_day(app))]
    try:
        Rollup._get_collection().bulk_write(ops, ordered=False)
    except BulkWriteError as e:   # two first writers of one document: the loser's insert failed, so repeat those
        again = [ops[err["index"]] for err in e.details.get("writeErrors", []) if err.get("code") == 11000]
        if len(again) != len(e.details.get("writeErrors", [])):
            raise
        Rollup._get_collection().bulk_write(again, ordered=False)


def submitted(app) -> None:
    _bump(app, on_submit(app))


def withdrawn(app) -> None:
    if app.submitted_at is not None:     # a withdrawn draft was never counted
        _bump(app, Counter(withdrawn=1))


def completed(app) -> None:
    """The case has its result (called once, by the step that completed its process, with the application as
    that step wrote it: no read)."""
    if app.status in ("approved", "rejected") and app.result and app.result.at:
        _bump(app, on_complete(app))


def rated(app, score: int) -> None:
    _bump(app, on_rate(score))


# -- recounting ------------------------------------------------------------------------------------------------

def _day_bounds(start: date | None, end: date | None) -> dict:
    from datetime import datetime, time, timedelta

    query = {}
    if start:
        query["submitted_at__gte"] = datetime.combine(start, time(), calendar.CHINA)
    if end:
        query["submitted_at__lt"] = datetime.combine(end + timedelta(days=1), time(), calendar.CHINA)
    return query


def recount(start: date | None = None, end: date | None = None) -> dict:
    """{rollup id: {counter: n, "h": {bin: n}}} counted afresh from the applications submitted between start and
    end (China dates, inclusive; None: all) and their ratings. Month and year documents are complete only when
    the range covers whole months and years."""
    from workflows.applications.models import Application
    from workflows.ratings.models import Rating

    apps = Application.objects(submitted_at__ne=None, **_day_bounds(start, end)).only(*_CASE_FIELDS)
    docs: dict = defaultdict(Counter)
    meta: dict = {}
    batch: list = []

    def flush():
        scores = {r.application_id: r.score
                  for r in Rating.objects(application_id__in=[a.id for a in batch]).only("application_id", "score")}
        for app in batch:
            add = contribution(app, scores.get(app.id))
            for _id, keys in targets(app.department, app.service_code, submit_day(app)):
                docs[_id] += add
                meta[_id] = {**keys, "service_name": app.service_name if keys["service_code"] else ""}
        batch.clear()

    for app in apps:
        batch.append(app)
        if len(batch) == 500:
            flush()
    flush()
    return {_id: {**meta[_id], **_nested(counts)} for _id, counts in docs.items()}


def _nested(counts: Counter) -> dict:
    out: dict = {k: counts.get(k, 0) for k in COUNTERS}
    out["h"] = {k[2:]: v for k, v in counts.items() if k.startswith("h.") and v}
    return out


def stored(ids=None) -> dict:
    query = {"_id": {"$in": list(ids)}} if ids is not None else {}
    return {d["_id"]: {**{k: d.get(k, 0) for k in COUNTERS}, "h": {k: v for k, v in (d.get("h") or {}).items() if v}}
            for d in Rollup._get_collection().find(query)}


def differences(start: date | None = None, end: date | None = None) -> list[dict]:
    """Where the kept rollups differ from a recount (for the documents the recount touches): [] when equal."""
    fresh = recount(start, end)
    kept = stored(fresh)
    out = []
    for _id, counts in sorted(fresh.items()):
        want = {k: counts[k] for k in (*COUNTERS, "h")}
        have = kept.get(_id)
        if have != want:
            out.append({"id": _id, "recount": want, "kept": have})
    return out


def rebuild() -> int:
    """Replace every rollup with a recount of all applications; returns the number of documents written.
    Run it while nobody submits (a case moving during the rebuild may be counted twice or not at all)."""
    fresh = recount()
    ops = [DeleteMany({})] + [UpdateOne({"_id": _id}, {"$set": doc}, upsert=True) for _id, doc in fresh.items()]
    Rollup._get_collection().bulk_write(ops, ordered=True)
    return len(fresh)
