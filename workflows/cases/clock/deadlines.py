"""An application's legal clock: the service's commitment limit (承诺时限) in working days from submission, the
reminder point at 75 % of it, and the pause while the application waits for the applicant (补正).

Paused time is counted in whole working days: the working days after the day it was returned, up to and including
the day it was supplemented (returned and supplemented on the same day: nothing paused). The deadline and a
reminder not yet sent move on by that many working days; the inbox rows that carry the service's deadline too.

People are told in working hours: a reminder point, and the moment an overdue case is escalated, fall between
09:00 and 17:00 China time on a working day (`in_working_hours`: a later time moves to 09:00 of the next working
day). The deadline itself stays the legal one, the submission's time of day on the last working day.

When a year's calendar is imported (`calendar.import_year`), `recompute` moves every open case's deadline and
unsent reminder point that the new arrangement changes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from pymongo import UpdateMany, UpdateOne

from core import clock, workdays
from workflows.cases.applications.models import OPEN, Application
from workflows.cases.catalog.models import ServiceVersion
from workflows.cases.tasks.models import HumanTask

log = logging.getLogger(__name__)

REMIND_SHARE = 0.75
OPENS, CLOSES = time(9, 0), time(17, 0)      # working hours, China time


def in_working_hours(at: datetime) -> datetime:
    """`at` if it falls 09:00–17:00 (China time) on a working day, else 09:00 of the next working day's morning
    (the same day's, before 09:00 on a working day). UTC, aware."""
    local = clock.china(at)
    day = local.date()
    if workdays.is_working_day(day):
        if OPENS <= local.time() <= CLOSES:
            return local.astimezone(timezone.utc)
        if local.time() < OPENS:
            return datetime.combine(day, OPENS, clock.CHINA).astimezone(timezone.utc)
    return datetime.combine(workdays.add_days(day, 1), OPENS, clock.CHINA).astimezone(timezone.utc)


def last_working_moment(before: datetime) -> datetime:
    """The latest time in working hours at or before `before`: a point is in working hours by `before`
    (`in_working_hours(point) <= before`) exactly when it is at or before this."""
    local = clock.china(before)
    day, at = local.date(), local.time()
    if workdays.is_working_day(day) and at >= OPENS:
        return min(local, datetime.combine(day, CLOSES, clock.CHINA)).astimezone(timezone.utc)
    return datetime.combine(workdays.add_days(day, -1), CLOSES, clock.CHINA).astimezone(timezone.utc)


def due_at(start: datetime, days: int) -> datetime | None:
    """The commitment deadline; None for 即办 (0 days)."""
    return workdays.add_working_days(start, days) if days and days > 0 else None


def remind_at(start: datetime, days: int) -> datetime | None:
    """When 75 % of the limit has passed (3.75 of 5 working days: three working days and 18 hours), moved into
    working hours; never after the deadline (then the last working hour before it)."""
    if not days or days <= 0:
        return None
    point = in_working_hours(workdays.add_working_days(start, days * REMIND_SHARE))
    due = due_at(start, days)
    return point if point <= due else max(last_working_moment(due), clock.as_utc(start))


@dataclass
class Resumed:
    paused_days: int
    due_at: datetime | None
    remind_at: datetime | None


def resume(paused_at: datetime | None, due: datetime | None, remind: datetime | None,
           now: datetime | None = None) -> Resumed:
    """The clock runs again at `now` after a pause that began at `paused_at`: the moved deadline and reminder."""
    if paused_at is None:
        return Resumed(0, due, remind)
    days = workdays.working_days_between(paused_at, now or clock.now())
    if not days:
        return Resumed(0, due, remind)
    return Resumed(days, workdays.add_working_days(due, days) if due else None,
                   workdays.add_working_days(remind, days) if remind else None)


# -- after an import -------------------------------------------------------------------------------------------

_FIELDS = {"_id": 1, "version": 1, "submitted_at": 1, "due_at": 1, "remind_at": 1, "reminded_at": 1,
           "service_code": 1, "service_version": 1, "timeline.paused_days": 1, "current_steps": 1}


def _ms(at: datetime | None) -> datetime | None:
    """UTC, aware, to the millisecond (what MongoDB keeps)."""
    if at is None:
        return None
    at = clock.as_utc(at)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _limits(docs) -> dict:
    keys = {(d["service_code"], d["service_version"]) for d in docs}
    found = {}
    for key in keys:
        sv = ServiceVersion.objects(code=key[0], version=key[1]).only("body").first()
        found[key] = sv.body.time_limit_days if sv and sv.body else None
    return found


def _recomputed(doc: dict, limit) -> tuple | None:
    """(due_at, remind_at) by the calendar now in force: the limit from submission, moved on by the working days
    the case has been paused so far (as each 补正 recorded them); None when nothing changes."""
    if not limit or limit <= 0 or doc.get("submitted_at") is None:
        return None
    paused = sum(e.get("paused_days") or 0 for e in doc.get("timeline") or ())
    due = workdays.add_working_days(doc["submitted_at"], limit + paused)
    remind = doc.get("remind_at")
    if doc.get("reminded_at") is None and remind is not None:
        point = remind_at(doc["submitted_at"], limit)
        remind = workdays.add_working_days(point, paused) if paused else point
    due, remind = _ms(due), _ms(remind)
    if due == _ms(doc.get("due_at")) and remind == _ms(doc.get("remind_at")):
        return None
    return due, remind


def _write(collection, docs) -> tuple[int, list]:
    """One bulk write for a page of cases; (how many moved, the ids that changed meanwhile)."""
    limits, ops, planned = _limits(docs), [], {}
    for doc in docs:
        new = _recomputed(doc, limits.get((doc["service_code"], doc["service_version"])))
        if new is None:
            continue
        due, remind = new
        old = _ms(doc.get("due_at"))
        steps = [dict(s, due_at=due) if s.get("due_at") is not None and _ms(s["due_at"]) == old else s
                 for s in doc.get("current_steps") or ()]
        ops.append(UpdateOne(
            {"_id": doc["_id"], "version": doc.get("version"), "status": {"$in": list(OPEN)},
             "due_at": doc.get("due_at"), "remind_at": doc.get("remind_at")},
            {"$set": {"due_at": due, "remind_at": remind, "current_steps": steps}, "$inc": {"version": 1}}))
        planned[doc["_id"]] = ((doc.get("version") or 0) + 1, due, doc.get("due_at"))
    if not ops:
        return 0, []
    collection.bulk_write(ops, ordered=False)
    took = {d["_id"] for d in collection.find({"_id": {"$in": list(planned)}}, {"version": 1, "due_at": 1})
            if d.get("version") == planned[d["_id"]][0] and _ms(d.get("due_at")) == planned[d["_id"]][1]}
    rows = [UpdateMany({"application_id": i, "due_at": planned[i][2], "status": {"$in": ["open", "returned"]}},
                       {"$set": {"due_at": planned[i][1]}}) for i in took if planned[i][2] is not None]
    if rows:
        HumanTask._get_collection().bulk_write(rows, ordered=False)
    return len(took), [i for i in planned if i not in took]


def recompute(since: date, batch: int = 500) -> int:
    """Move the deadlines and unsent reminder points of open cases that fall on or after `since` (a China date,
    the first day of an imported year) to what the calendar says now: the service's limit from submission, moved
    on by the working days each 补正 paused it. Each write is conditional on the case being unchanged since it was
    read (open, same version, same deadline and reminder point); one that changed meanwhile is read again, twice
    at most. Its inbox rows that carried the old deadline carry the new one. Returns how many cases moved."""
    workdays.refresh(force=True)
    start = datetime.combine(since, time(0), clock.CHINA).astimezone(timezone.utc)
    # a reminder point is never after its deadline (remind_at; resume moves both alike), so the deadline alone
    # says which cases the year moves — and no `$or`, which the embedded database answers by reading every case
    query = {"due_at": {"$gte": start}, "status": {"$in": list(OPEN)}}
    collection, moved, retry, last = Application._get_collection(), 0, [], None
    while True:
        page = dict(query, **({"_id": {"$gt": last}} if last is not None else {}))
        docs = list(collection.find(page, _FIELDS).sort("_id", 1).limit(batch))
        if not docs:
            break
        last = docs[-1]["_id"]
        done, missed = _write(collection, docs)
        moved, retry = moved + done, retry + missed
    for _ in range(2):
        if not retry:
            break
        done, retry = _write(collection, list(collection.find(dict(query, _id={"$in": retry}), _FIELDS)))
        moved += done
    if retry:
        log.warning("calendar: %d open cases kept changing while their deadlines were recomputed; left as they "
                    "were", len(retry))
    if moved:
        log.info("calendar: moved the deadline or reminder point of %d open cases", moved)
    return moved
