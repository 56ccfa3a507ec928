"""Keeping the rollups as cases move, and recounting them from the applications.

A write that changes what a case adds (its submit, its end, its withdrawal) sets the application's
`stats_due_at`, in that same write; the worker (`flush_due`, each round) adds what each due case adds now beyond
what it had added (`stats_counted`, kept on the application) to the rollups — for up to 500 cases, one bulk write
of `$inc` upserts — and marks them counted. So a case costs its request no statistics write, and the figures
follow within a worker round. A rating is added at once (`rated`). A crash between the rollups' write and the
marks leaves those cases to be added again: `zhangban stats rebuild` recounts from the applications with the same
rules (`contribution` is what a case in its present state adds), so a recount and the kept rollups agree exactly
once nothing is due — `differences()` says where they do not.
"""
from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone

from pymongo import DeleteMany, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from core import clock, workdays
from workflows.cases.stats.models import BINS, COUNTERS, HIST_MAX, Rollup

FLUSH_BATCH = 500                    # cases a worker adds to the rollups in one round
FLUSH_LOCK = timedelta(seconds=60)   # one worker flushes at a time (two would add a case twice)

_CASE_FIELDS = ("id", "department", "service_code", "service_name", "status", "channel", "submitted_at",
                "due_at", "result", "timeline")


# -- what a case adds ------------------------------------------------------------------------------------------

def submit_day(app) -> date:
    return clock.china(app.submitted_at).date()       # the China day, whatever the server's zone


def handling_days(app) -> int:
    """Working days from submission to the result, less the working days the clock stood still for 补正."""
    paused = sum(e.paused_days or 0 for e in app.timeline if e.action == "supplemented")
    return max(0, workdays.working_days_between(app.submitted_at, app.result.at) - paused)


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


def _ops(department: str, service_code: str, service_name: str, day: date, inc: dict) -> list[tuple[str, dict]]:
    return [(_id, {"$inc": inc, "$setOnInsert": keys, "$set": {"service_name": service_name if keys["service_code"]
                                                                                  else ""}})
            for _id, keys in targets(department, service_code, day)]


def _write(updates: list[tuple[str, dict]]) -> None:
    """One bulk write of `$inc` upserts, one per rollup document."""
    ops = [UpdateOne({"_id": _id}, update, upsert=True) for _id, update in updates]
    if not ops:
        return
    try:
        Rollup._get_collection().bulk_write(ops, ordered=False)
    except BulkWriteError as e:   # two first writers of one document: the loser's insert failed, so repeat those
        again = [ops[err["index"]] for err in e.details.get("writeErrors", []) if err.get("code") == 11000]
        if len(again) != len(e.details.get("writeErrors", [])):
            raise
        Rollup._get_collection().bulk_write(again, ordered=False)


def rated(app, score: int) -> None:
    if app.submitted_at is not None:
        _write(_ops(app.department, app.service_code, app.service_name, submit_day(app), dict(on_rate(score))))


def flush_due(now: datetime | None = None, limit: int = FLUSH_BATCH) -> int:
    """Add the due cases to the rollups (the worker, each round); returns how many cases were flushed. One read
    when nothing is due; else the lock, the cases, one write to the rollups and one to the cases, the unlock."""
    from workflows.cases.applications.models import Application

    now = now or clock.now()
    applications = Application._get_collection()
    if applications.find_one({"stats_due_at": clock.due_by(now)}, {"_id": 1}) is None:
        return 0
    token = _lock(now)
    if token is None:
        return 0         # another worker is flushing
    try:
        cases = list(Application.objects(__raw__={"stats_due_at": clock.due_by(now)})
                     .only(*_CASE_FIELDS, "stats_counted", "stats_due_at").limit(limit))
        totals: dict = defaultdict(Counter)
        names: dict = {}
        marks = []
        for app in cases:
            now_adds = contribution(app) if app.submitted_at is not None else Counter()
            delta = Counter(now_adds)
            delta.subtract(app.stats_counted or {})
            if any(delta.values()):
                key = (app.department, app.service_code, submit_day(app))
                totals[key].update({k: v for k, v in delta.items() if v})
                names[key] = app.service_name
            marks += [UpdateOne({"_id": app.id}, {"$set": {"stats_counted": dict(now_adds)}}),
                      # a write that made it due again meanwhile set another time: it stays due
                      UpdateOne({"_id": app.id, "stats_due_at": app.stats_due_at}, {"$unset": {"stats_due_at": ""}})]
        if not _still_ours(token, now):
            return 0     # paused past the lease: another flusher took these cases; adding them here would count twice
        _write([op for (department, code, day), inc in totals.items()
                for op in _ops(department, code, names[(department, code, day)], day,
                               {k: v for k, v in inc.items() if v})])
        if marks:
            applications.bulk_write(marks, ordered=True)
        return len(cases)
    finally:
        _unlock(token)


def flush_all(now: datetime | None = None) -> int:
    """`flush_due` until nothing is due (a recount's check, tests); returns how many cases were flushed."""
    flushed = 0
    while True:
        done = flush_due(now)
        if not done:
            return flushed
        flushed += done


def _lock(now: datetime) -> str | None:
    locks = Rollup._get_db()["stats_flush_lock"]
    token = uuid.uuid4().hex
    for _ in range(2):
        if locks.find_one_and_update({"_id": "flush", "until": {"$lt": now}},
                                     {"$set": {"until": now + FLUSH_LOCK, "token": token}}):
            return token
        try:        # the first flush ever creates the lock's document, free
            locks.insert_one({"_id": "flush", "until": datetime(1970, 1, 1, tzinfo=timezone.utc), "token": ""})
        except DuplicateKeyError:
            return None
    return None


def _still_ours(token: str, now: datetime) -> bool:
    """The fence before the writes: the lock still carries this flush's token (no one took it after the lease ran
    out), and its lease starts again from now, so the writes that follow are the only ones."""
    return Rollup._get_db()["stats_flush_lock"].update_one(
        {"_id": "flush", "token": token},
        {"$set": {"until": max(now, clock.now()) + FLUSH_LOCK}}).modified_count == 1


def _unlock(token: str) -> None:
    Rollup._get_db()["stats_flush_lock"].update_one(
        {"_id": "flush", "token": token}, {"$set": {"until": datetime(1970, 1, 1, tzinfo=timezone.utc)}})


# -- recounting ------------------------------------------------------------------------------------------------

def _day_bounds(start: date | None, end: date | None) -> dict:
    from datetime import datetime, time, timedelta

    query = {}
    if start:
        query["submitted_at__gte"] = datetime.combine(start, time(), clock.CHINA)
    if end:
        query["submitted_at__lt"] = datetime.combine(end + timedelta(days=1), time(), clock.CHINA)
    return query


def recount(start: date | None = None, end: date | None = None) -> dict:
    """{rollup id: {counter: n, "h": {bin: n}}} counted afresh from the applications submitted between start and
    end (China dates, inclusive; None: all) and their ratings. Month and year documents are complete only when
    the range covers whole months and years."""
    from workflows.cases.applications.models import Application
    from workflows.cases.ratings.models import Rating

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


def recent_activity(quiet: timedelta) -> str | None:
    """What changed within `quiet` (a case, a rating, a change not yet flushed), or None: `stats rebuild` runs only
    on a still service."""
    from workflows.cases.applications.models import Application
    from workflows.cases.ratings.models import Rating

    since = clock.now() - quiet
    if Application.objects(updated_at__gte=since).only("id").first() is not None:
        return f"a case changed in the last {int(quiet.total_seconds())} s"
    if Rating.objects(created_at__gte=since).only("id").first() is not None:
        return f"a case was rated in the last {int(quiet.total_seconds())} s"
    return None


def rebuild() -> int:
    """Replace every rollup with a recount of all applications and mark every case counted as it is; returns the
    number of documents written. Run it while nobody submits (a case moving during the rebuild may be counted
    twice or not at all)."""
    from workflows.cases.applications.models import Application

    fresh = recount()
    ops = [DeleteMany({})] + [UpdateOne({"_id": _id}, {"$set": doc}, upsert=True) for _id, doc in fresh.items()]
    Rollup._get_collection().bulk_write(ops, ordered=True)
    marks = []
    for app in Application.objects(submitted_at__ne=None).only(*_CASE_FIELDS):
        marks.append(UpdateOne({"_id": app.id}, {"$set": {"stats_counted": dict(contribution(app))},
                                                  "$unset": {"stats_due_at": ""}}))
        if len(marks) == 500:
            Application._get_collection().bulk_write(marks, ordered=False)
            marks = []
    if marks:
        Application._get_collection().bulk_write(marks, ordered=False)
    return len(fresh)
