"""Reminders and escalations, run by the worker each round (`scan(now)`).

- At 75 % of an application's time limit (`Application.remind_at`) its current handlers are reminded once
  (notification kind `reminder`): the assignee of each open inbox row, or, for an unclaimed row, its candidate
  users and the approvers of its candidate departments.
- Once its deadline (`due_at`) has passed it is escalated once (kind `escalated`) to the holders of the role the
  service names (`escalate_to_role`, "lead" by default) in the departments handling it now (the service's own
  department when no row is open), and its open inbox rows get the red flag `escalated`.
- An application waiting for its applicant (returned, 补正) is paused: neither happens until it is supplemented
  (which moves the deadline on, see deadlines.py).
- Both fall in working hours (deadlines.py `in_working_hours`): a reminder point is stored there already (one
  stored before that rule moves there when scanned); an escalation waits for the first working hour at or after
  the deadline. The points only move later and in order, so the cases a round defers are the latest it found.

Idempotent without transactions: the messages go to the outbox first, under the dedupe keys
`reminder:<application id>` and `escalated:<application id>`, then the application is marked (`reminded_at`,
`escalated_at`) conditionally. A crash in between sends nothing twice on the next round; two workers scanning
together write each message once. Each call handles at most `limit` applications per kind, found through the
indexes (status, reminded_at, remind_at) and (status, escalated_at, due_at).

Who holds a role in a department is identity's knowledge: the delivery room registers it
(`register_people_resolver`), as it registers the lane resolver of the inbox projection.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from core import audit, clock
from core.actor import Actor
from workflows.cases.applications.models import Application
from workflows.cases.catalog.models import ServiceVersion
from workflows.cases.clock import deadlines
from workflows.cases.notify import service as notify
from workflows.cases.tasks.models import HumanTask

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
DEFAULT_ROLE = "lead"
# (department ids, role) -> {department id: [user ids holding the role there]}
PeopleResolver = Callable[[set, str], dict]
_resolver: list[PeopleResolver] = []

_APP_FIELDS = ("id", "number", "service_code", "service_version", "service_name", "department", "due_at")
_ROW_FIELDS = ("id", "application_id", "assignee", "candidate_users", "candidate_departments", "name")


def register_people_resolver(resolve: PeopleResolver) -> None:
    _resolver[:] = [resolve]


def people(department_ids, role: str) -> dict:
    """{department id: [user ids]} of the role's holders, through the registered resolver."""
    wanted = {d for d in department_ids if d}
    if not wanted:
        return {}
    if not _resolver:
        log.warning("clock: no people resolver registered; %s of %s cannot be notified", role, sorted(wanted))
        return {}
    return _resolver[0](wanted, role)


def scan(now: datetime | None = None, limit: int = DEFAULT_LIMIT) -> dict:
    """Send the reminders and escalations that are due at `now`; returns {"reminded": n, "escalated": n}."""
    now = clock.as_utc(now) if now else clock.now()
    return {"reminded": _remind(now, limit), "escalated": _escalate(now, limit)}


def _due(marked: str, at: str, now: datetime, limit: int) -> list[Application]:
    """Open cases whose point `at` has come in working hours (one outside them waits for the next opening, in
    the query's bound: read at night, it is not read and set aside every round)."""
    by = deadlines.last_working_moment(now)
    return list(Application.objects(status="submitted", **{marked: None, f"{at}__gte": clock.DUE_FLOOR,
                                                           f"{at}__lte": by}).order_by(at).limit(limit)
                .only(*_APP_FIELDS))


def _open_rows(apps) -> dict:
    found: dict = {}
    for row in HumanTask.objects(application_id__in=[a.id for a in apps], status="open").only(*_ROW_FIELDS):
        found.setdefault(row.application_id, []).append(row)
    return found


def _when(at) -> str:
    return clock.china(at).strftime("%Y-%m-%d %H:%M") if at else ""


def _remind(now: datetime, limit: int) -> int:
    apps = _due("reminded_at", "remind_at", now, limit)
    if not apps:
        return 0
    rows = _open_rows(apps)
    approvers = people({d for rs in rows.values() for r in rs if not r.assignee for d in r.candidate_departments},
                       "approver")
    for app in apps:
        handlers = []
        for row in rows.get(app.id, []):
            if row.assignee:
                handlers.append(row.assignee)
            else:
                handlers += list(row.candidate_users) + [u for d in row.candidate_departments
                                                         for u in approvers.get(d, [])]
        first = rows.get(app.id, [None])[0]
        notify.enqueue("reminder", handlers, application=app, task_id=str(first.id) if first else "",
                       title=f"{app.service_name} 即将到期", body=f"办件 {app.number} 的办理期限为 {_when(app.due_at)}",
                       data={"due_at": clock.as_utc(app.due_at).isoformat() if app.due_at else None},
                       dedupe=f"reminder:{app.id}")
    # marked after every message is in the outbox, with one write: a crash before it repeats only deduped messages
    return Application.objects(id__in=[a.id for a in apps], reminded_at=None).update(set__reminded_at=now)


def _escalation_roles(apps) -> dict:
    """(service code, version) → the role overdue cases go to."""
    roles = {}
    for key in {(a.service_code, a.service_version) for a in apps}:
        sv = ServiceVersion.objects(code=key[0], version=key[1]).only("body").first()
        roles[key] = (sv.body.escalate_to_role if sv and sv.body else None) or DEFAULT_ROLE
    return roles


def _escalate(now: datetime, limit: int) -> int:
    apps = _due("escalated_at", "due_at", now, limit)
    if not apps:
        return 0
    rows = _open_rows(apps)
    roles = _escalation_roles(apps)
    departments = {a.id: sorted({d for r in rows.get(a.id, []) for d in r.candidate_departments}) or [a.department]
                   for a in apps}
    holders = {role: people({d for a in apps if roles[(a.service_code, a.service_version)] == role
                             for d in departments[a.id]}, role) for role in set(roles.values())}
    # the red flag, one write for the round: a flag, not an edit, so approvers' copies of the rows keep their version
    HumanTask.objects(application_id__in=[a.id for a in apps], status="open").update(set__escalated=True)
    system, done = Actor.system(), 0
    for app in apps:
        role = roles[(app.service_code, app.service_version)]
        leads = list(dict.fromkeys(u for d in departments[app.id] for u in holders[role].get(d, [])))
        if not leads:
            log.warning("clock: application %s is overdue but no %s holds departments %s; flagged, nobody told",
                        app.number, role, departments[app.id])
        first = rows.get(app.id, [None])[0]
        notify.enqueue("escalated", leads, application=app, task_id=str(first.id) if first else "",
                       title=f"{app.service_name} 已超期", body=f"办件 {app.number} 已超过办理期限 {_when(app.due_at)}",
                       data={"due_at": clock.as_utc(app.due_at).isoformat(), "role": role},
                       dedupe=f"escalated:{app.id}")
        if Application.objects(id=app.id, escalated_at=None).update_one(set__escalated_at=now):
            done += 1
            audit.record(system, "application.escalate", "application", app.id, number=app.number, role=role,
                         departments=departments[app.id], to=leads)
    return done
