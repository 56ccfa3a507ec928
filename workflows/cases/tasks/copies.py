"""抄送: an approver who may act on a task now gives staff of the case's departments (or their parent departments)
read access to the case — a bounded, audited grant.

- Who copies: someone who may act on the task now (an approver of its department holding it or able to claim
  it, a named signer); not a lead without the approver role, not whoever completed it (403 `task.cc_not_allowed`),
  and not once the case has ended or been withdrawn (409 `task.cc_case_closed`). 回避 applies (403 `task.recusal`).
- Whom: staff of the departments its tasks belong to (and the service's), or of their parent departments
  (identity knows the tree: the delivery room registers `register_department_ancestors`); anyone else is 422
  naming `/user_ids/<n>` or `/department_id`.
- What it reads: the masked application, while the case is open and for at most `days` (ZHANGBAN_CC_DAYS) after
  the copy; then the copy stays in the list but opens no more (404 `task.copy_ended`). Files: thumbnails; the full
  file needs a stated reason and each such read is audited with it (storage's limited readers, `reads`).
- One write: the copies, the audit record, the timeline line and the messages ride in one conditional update of
  the application (core/deferred.py) — no copy without its record; they are then delivered at once (the worker
  delivers whatever a crash left).
"""
from __future__ import annotations

import html
import logging
import re
from datetime import timedelta
from typing import Callable

from pymongo.errors import PyMongoError

from core import audit, clock, db
from core.cache import WeightedLRU
from core import deferred as deferred_records
from core.actor import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.cases.applications import cases
from workflows.cases.applications.models import OPEN, Application, Event
from workflows.cases.clock import reminders
from workflows.cases.notify import service as notify
from workflows.bpmn.models import Instance, ProcessVersion
from workflows.cases.tasks import projection
from workflows.cases.tasks.access import check_not_recused, may_act_now, visible_task
from workflows.cases.tasks.models import CarbonCopy, HumanTask
from workflows.cases.tasks.names import staff_name
from workflows.cases.tasks.service import event_for

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30
PROCESS_LANES = WeightedLRU("process lanes", max_weight=1024 * 1024,
                           weigh=lambda found: 100 + sum(len(n) for n in found[1]))
_LANE = re.compile(r"""<(?:[\w.-]+:)?lane\b[^>]*?\bname\s*=\s*["']([^"']*)["']""")
_days = [DEFAULT_DAYS]
_ancestors: list[Callable[[set], dict]] = [lambda ids: {}]


class CopyRefused(Forbidden):
    code = "task.cc_not_allowed"


class CopyClosed(Conflict):
    code = "task.cc_case_closed"


def configure(days: int) -> None:
    """How long a copy may be read at most (the case's end ends it sooner)."""
    _days[0] = days


def register_department_ancestors(resolver: Callable[[set], dict]) -> None:
    """`resolver(department ids) -> {id: [ancestor ids]}` (identity's department tree)."""
    _ancestors[0] = resolver


def involved_departments(app: Application) -> set[str]:
    """The departments of the case: its service's, its tasks' and its process's lanes'; and their parents."""
    found = {d for d in HumanTask.objects(application_id=app.id).distinct("candidate_departments") if d}
    found.add(app.department)
    instance = Instance.objects(id=app.instance_id).only("process_version_id").first() if app.instance_id else None
    if instance and instance.process_version_id:
        department, lanes = PROCESS_LANES.get(instance.process_version_id,
                                              lambda: _lanes_of(instance.process_version_id))
        found.update(d for d in [department, *projection.departments_of(lanes).values()] if d)
    for ancestors in _ancestors[0](set(found)).values():
        found.update(str(a) for a in ancestors)
    return found


def _lanes_of(version_id) -> tuple[str, frozenset]:
    """A published version's department and lane names (department codes; the XML was parsed and checked at
    publish). Published versions never change: read once per process (PROCESS_LANES)."""
    version = ProcessVersion.objects(id=version_id).only("department", "bpmn_xml").first()
    if version is None:
        return "", frozenset()
    return version.department, frozenset(html.unescape(n).strip() for n in _LANE.findall(version.bpmn_xml or ""))


def _staff_departments(person: Actor) -> set[str]:
    return {d for ids in person.departments.values() for d in ids}


def carbon_copy(actor: Actor, task_id: str, targets: list[Actor], *, department_id: str | None = None,
                comment: str = "") -> int:
    """Copy `targets` (staff, as plain values) and the approvers of `department_id`; returns how many were newly
    copied (a person copied already is not copied twice)."""
    task = visible_task(actor, task_id)
    app = Application.objects(id=task.application_id).only(
        "id", "status", "department", "number", "service_name", "instance_id").first()
    if app is None:
        raise NotFound()
    if app.status not in OPEN:
        raise CopyClosed("task.cc_case_closed")
    check_not_recused(actor, task)
    if not may_act_now(actor, task):
        raise CopyRefused("task.cc_not_allowed")
    if not targets and not department_id:
        raise Invalid("task.nobody_to_copy", errors=[{"path": "/user_ids", "code": "required",
                                                      "message": "task.nobody_to_copy"}])
    allowed = involved_departments(app)
    refused = [{"path": f"/user_ids/{i}", "code": "not_allowed", "message": "task.cc_target_not_allowed"}
               for i, person in enumerate(targets) if not _staff_departments(person) & allowed]
    if department_id and department_id not in allowed:
        refused.append({"path": "/department_id", "code": "not_allowed", "message": "task.cc_target_not_allowed"})
    if refused:
        raise Invalid("task.cc_target_not_allowed", errors=refused)
    wanted = [person.user_id for person in targets]
    if department_id:
        wanted += reminders.people({department_id}, "approver").get(department_id, [])
    wanted = [u for u in dict.fromkeys(wanted) if u and u != actor.user_id]
    copied = set(CarbonCopy.objects(application_id=app.id, user_id__in=wanted).distinct("user_id")) if wanted else set()
    new = [u for u in wanted if u not in copied]
    if not new:
        return 0
    now = clock.now()
    home = task.candidate_departments[0] if task.candidate_departments else ""
    sender = staff_name(actor, home)
    event = event_for(actor, task, "cc", Event.line(f"{len(new)} 人", comment))
    owed = [CarbonCopy(application_id=app.id, application_number=app.number or "", service_name=app.service_name,
                       user_id=user_id, from_user=actor.user_id, from_name=sender, task_id=task.id, comment=comment,
                       created_at=now, expires_at=now + timedelta(days=_days[0])) for user_id in new]
    for copy in owed:
        copy.validate()
    owed += [audit.build(actor, "task.cc", "task", task.id, application=str(app.id), to=new),
             *notify.messages("cc", new, application=app, task_id=str(task.id), title=f"抄送：{app.service_name}",
                              body=comment, data={"from": sender}, dedupe=f"cc:{app.id}")]
    if not Application.objects(id=app.id, status__in=OPEN).update_one(
            push__timeline=event, set__updated_at=now, inc__version=1, **deferred_records.carry(owed, now)):
        raise CopyClosed("task.cc_case_closed")       # it ended a moment ago: nobody was copied
    _deliver(app.id)
    return len(new)


def _deliver(app_id) -> None:
    """The copies, and every record the case carried with them (read again: earlier acts' too), into their
    collections now, so the people copied see them at once; if this fails, the worker's next round does it."""
    try:
        waiting = list(Application._get_collection().find({"_id": app_id, **deferred_records.due_query()},
                                                          {"deferred": 1, "deferred_due_at": 1}))
        deferred_records.move(Application, waiting)
    except PyMongoError as e:
        log.warning("copies of %s: delivery left to the worker (%s)", app_id, type(e).__name__)


def copies(actor: Actor, *, unread: bool = False):
    query = CarbonCopy.objects(user_id=actor.user_id).order_by("-created_at")
    return query.filter(read_at=None) if unread else query


def _live_ids(actor: Actor, application_ids) -> list:
    """Of these applications, those the actor holds a copy of that may still be read: not expired, case open."""
    now = clock.now()
    held = [c.application_id for c in CarbonCopy.objects(
        application_id__in=list(application_ids), user_id=actor.user_id, expires_at__gt=now).only("application_id")]
    return [a.id for a in Application.objects(id__in=held, status__in=OPEN).only("id")] if held else []


def reads(actor: Actor, application_ids: list) -> bool:
    """For storage's limited readers: a live copy of one of these applications (thumbnails; a full file with a
    stated reason, audited)."""
    oids = [o for o in map(clock.parse_id, application_ids) if o]
    return bool(oids) and bool(_live_ids(actor, oids))


def read_copy(actor: Actor, copy_id: str) -> dict:
    """The copied application (PII masked) while the copy may be read; marks the copy read."""
    copy = db.found(CarbonCopy, copy_id, user_id=actor.user_id)
    now = clock.now()
    app = Application.objects(id=copy.application_id).first()
    # live: not expired and the case open (what `_live_ids` asks of the database, here of what was read)
    if app is None or app.status not in OPEN or copy.expires_at is None or clock.as_utc(copy.expires_at) <= now:
        raise NotFound("task.copy_ended")
    if copy.read_at is None and CarbonCopy.objects(id=copy.id, read_at=None).update_one(set__read_at=now):
        copy.read_at = now
    return {"copy": copy, "application": app, "data": cases.masked_data(cases.form_of(app), app.data),
            "attachments": list(app.attachments)}
