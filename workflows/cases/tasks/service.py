"""The approver's side: inbox lists and counts, task detail, claim, approve or reject, return for 补正.

Who may do what, and 回避: workflows/cases/tasks/access.py.

Complete, in order: the task row is taken conditionally (open, that version → done), which is the lock — of 20
approvers racing, one wins; the application is marked as acted on (a resident's withdrawal can no longer win);
then the engine runs and writes the instance with the decision's audit record and messages (a failure puts the row
back and the caller gets the error); then the one case-state writer (workflows/cases/applications/case_state.py) writes
the application's status, result, timeline and steps and the projection's new rows. 不同意 ends the case unless
the task routes rejections (workflows/bpmn/engine/outcome.py); the case's result is the end its process reached.

Task kinds other than a process's user task (a bad rating's follow-up) register what complete and detail mean for
them (`register_kind`); the rooms that own them register at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Callable

from core import audit, clock
from core import deferred as deferred_records
from core.actor import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from forms import service as forms
from forms import validation as form_validation
from storage import service as storage
from workflows.bpmn import instances, task_data
from workflows.cases.applications import case_state, cases
from workflows.cases.applications.models import LINE_MAX, OPEN, Application, Event, ReturnRequest
from workflows.bpmn.models import Instance
from workflows.cases.notify import service as notify
from workflows.cases.tasks.access import (audience as _audience, check_may_act,  # noqa: F401
                                          visible_task, visible_task_and_instance)
from workflows.cases.tasks import inbox
from workflows.cases.tasks.models import HumanTask
from workflows.cases.tasks.names import staff_name
from workflows.cases.tasks.signers import picked

DECISIONS = {"approve": "approved", "reject": "rejected"}
ENGINE_ATTEMPTS = 3     # an approval whose instance another task moved meanwhile runs again on the new state


@dataclass(frozen=True)
class TaskKind:
    """What a kind of task with no process step behind it means: `complete(actor, task, expected_version,
    decision=…, comment=…)` acts on it, `detail(task, app)` adds to what its detail shows."""
    complete: Callable
    detail: Callable | None = None


KINDS: dict[str, TaskKind] = {}


def register_kind(name: str, kind: TaskKind) -> None:
    KINDS[name] = kind

# -- who sees what (workflows/cases/tasks/access.py) --------------------------------------------------------------

def handles(actor: Actor, application_ids: list) -> bool:
    """For storage's reader checks: the actor has an open task of one of these applications, or is its applicant
    (result documents are the approver's files, read by the resident). A copy (抄送) reads less:
    workflows/cases/tasks/copies.py `reads`."""
    oids = [o for o in map(clock.parse_id, application_ids) if o]
    if not oids:
        return False
    if Application.objects(id__in=oids, applicant_id=actor.user_id).only("id").first():
        return True
    audience = _audience(actor)
    return HumanTask.objects(application_id__in=oids, status="open", audience__in=audience).only("id").first() \
        is not None


# -- lists -----------------------------------------------------------------------------------------------------

COUNT_CAP = 100      # badge counts and totals are exact below this; at it they mean "this many or more" (99+)


def inbox_page(actor: Actor, box: str, *, page: int, page_size: int, service: str | None = None,
               overdue: bool = False, sort: str = "due", now: datetime | None = None) -> dict:
    """待办 (`todo`: mine and my groups' unclaimed, not cases I must recuse myself from) or 已办 (`done`: completed
    by me): one page of light rows and the total — or, with `total_capped`, how many rows were read (more may
    follow). Read in windows of the sort field, one indexed query per group of the caller
    (workflows/cases/tasks/inbox.py)."""
    now = now or clock.now()
    if box == "done":
        listings = [inbox.done(actor.user_id)]
    else:
        listings = [(inbox.todo if sort == "due" else inbox.newest)(who) for who in _audience(actor)]
    until = now if overdue and listings[0].field == "due_at" else None

    def keep(row) -> bool:
        return ((box == "done" or actor.user_id not in (row.get("recused") or ()))
                and (not service or row.get("service_code") == service)
                and (not overdue or until is not None or (row.get("due_at") is not None
                                                          and clock.as_utc(row["due_at"]) < now)))

    skip = (page - 1) * page_size
    rows = inbox.first_rows(listings, skip + page_size + 1, keep=keep, fields=LIST_FIELDS, until=until)
    # one row past the page says whether more follow; counting them all would read them all
    return {"items": [_light(row) for row in rows[skip:skip + page_size]], "total": len(rows),
            "total_capped": len(rows) > skip + page_size, "page": page, "page_size": page_size}


def of_application(actor: Actor, reference: str) -> list[SimpleNamespace]:
    """The caller's 待办 rows of one case, by its id or its number (ZB…): an approver finds a case's task without
    paging. Someone else's case, or one with nothing for the caller, gives an empty list."""
    oid = clock.parse_id(reference)
    if oid is None:
        found = Application._get_collection().find_one({"number": reference}, {"_id": 1})
        oid = found["_id"] if found else None
    if oid is None:
        return []
    mine = set(_audience(actor))
    return [_light(row) for row in HumanTask._get_collection().find(
                {"application_id": oid, "status": "open"}, dict.fromkeys((*LIST_FIELDS, "audience", "recused"), 1))
            if mine & set(row.get("audience") or ()) and actor.user_id not in (row.get("recused") or ())]


# What a task list shows (api TaskOut): read as plain rows, since building a Document per row was most of a
# page's CPU (tests/perf/test_applications_bench.py, inbox).
LIST_FIELDS = ("kind", "name", "element_id", "application_id", "application_number", "applicant_name", "service_code",
               "service_name", "candidate_departments", "assignee", "status", "outcome", "due_at", "escalated",
               "created_at", "completed_at", "form_key", "form_version", "version")


def _light(doc: dict) -> SimpleNamespace:
    row = SimpleNamespace(**_LIST_DEFAULTS, candidate_departments=[])
    row.__dict__.update({k: v for k, v in doc.items() if k in LIST_FIELDS})
    row.id = str(doc["_id"])
    return row


_LIST_DEFAULTS = {name: HumanTask._fields[name].default for name in LIST_FIELDS
                  if not callable(HumanTask._fields[name].default)}   # (the list and created_at: always set)


def counts(actor: Actor, now: datetime | None = None) -> dict:
    """Badge numbers for the lists, exact below COUNT_CAP (at it: that many or more, shown 99+); each read as
    at most COUNT_CAP rows, however long the lists."""
    now = now or clock.now()
    mine = [inbox.todo(who) for who in _audience(actor)]

    def keep(row) -> bool:
        return actor.user_id not in (row.get("recused") or ())

    return {"todo": inbox.count(mine, COUNT_CAP, keep=keep),
            "overdue": inbox.count(mine, COUNT_CAP, keep=keep, until=now),
            "done": inbox.count([inbox.done(actor.user_id)], COUNT_CAP), "cap": COUNT_CAP}


def detail(actor: Actor, task_id: str) -> dict:
    """The task, its application (身份证号 and phones masked), timeline and the task's form; for a bad rating's
    follow-up (差评回访) also the rating it follows up."""
    task = visible_task(actor, task_id)
    app = Application.objects(id=task.application_id).first()
    if app is None:
        raise NotFound()
    form_version = cases.form_of(app)
    shown = {"task": task, "application": app, "data": cases.masked_data(form_version, app.data),
             "attachments": list(app.attachments)}
    kind = KINDS.get(task.kind)
    if kind is not None and kind.detail is not None:
        shown.update(kind.detail(task, app))
    return shown


# -- actions ---------------------------------------------------------------------------------------------------

def claim(actor: Actor, task_id: str, expected_version: int) -> HumanTask:
    task = visible_task(actor, task_id)
    check_may_act(actor, task, expected_version)
    if not HumanTask.objects(id=task.id, version=expected_version, status="open", assignee=None).update_one(
            set__assignee=actor.user_id, set__audience=[f"user:{actor.user_id}"], inc__version=1):
        raise Conflict("task.changed")
    audit.record(actor, "task.claim", "task", task.id, application=str(task.application_id))
    return task.reload()


def unclaim(actor: Actor, task_id: str, expected_version: int) -> HumanTask:
    task = visible_task(actor, task_id)
    if task.assignee != actor.user_id:
        raise Forbidden("task.not_your_task")
    if actor.user_id in task.candidate_users:
        raise Forbidden("task.picked_signer")    # a picked countersigner's slot is theirs: it has no pool to go to
    check_may_act(actor, task, expected_version)
    audience = [f"dept:{d}" for d in task.candidate_departments] + [f"user:{u}" for u in task.candidate_users]
    if not HumanTask.objects(id=task.id, version=expected_version, assignee=actor.user_id).update_one(
            set__assignee=None, set__audience=audience, inc__version=1):
        raise Conflict("task.changed")
    audit.record(actor, "task.unclaim", "task", task.id)
    return task.reload()


def take(actor: Actor, task: HumanTask, expected_version: int, outcome: str, status: str) -> None:
    """The lock: exactly one caller moves an open task of this version on (and `task` shows what was written)."""
    now = clock.now()
    # pymongo's own update: every action takes a task, and mongoengine's query and update building cost more
    # CPU than the command itself. (No `$or`: beside it the embedded database found the row by reading them all.)
    taken = HumanTask._get_collection().update_one(
        {"_id": task.id, "version": expected_version, "status": "open", "assignee": {"$in": [None, actor.user_id]}},
        {"$set": {"status": status, "outcome": outcome, "completed_by": actor.user_id, "completed_at": now},
         "$inc": {"version": 1}})
    if not taken.modified_count:
        raise Conflict("task.changed")
    task.status, task.outcome, task.completed_by, task.completed_at = status, outcome, actor.user_id, now
    task.version = expected_version + 1


def put_back(task: HumanTask) -> None:
    """An action that took the row failed: the row waits again — only if it is still as that action left it, and
    its case still open (a withdrawal that landed meanwhile closed it: it is cancelled instead, so no open row
    outlives its case)."""
    taken = {"id": task.id, "version": task.version, "status": task.status}
    if HumanTask.objects(**taken).update_one(set__status="open", set__outcome=None, set__completed_by=None,
                                             set__completed_at=None, inc__version=1) \
            and not Application.objects(id=task.application_id, status__in=OPEN).only("id").first():
        # checked after reopening: a withdrawal's own close either saw the row open or is seen here
        HumanTask.objects(id=task.id, version=task.version + 1, status="open").update_one(
            set__status="cancelled", set__completed_at=clock.now(), inc__version=1)


_NOT_READ_BACK = ("data_json", "timeline", "deferred", "stats_counted", "return_request")


def mark_acted(task: HumanTask) -> Application:
    """The application is being handled: from now on the resident cannot withdraw it. Returns the application
    as the write left it; `first_act` says whether this write is the one that ended withdrawing (see
    `unmark_acted`)."""
    # the document before (was this the first act?), without what no action reads back from it
    app = Application.objects(id=task.application_id, status="submitted").exclude(*_NOT_READ_BACK).modify(
        set__staff_acted=True, inc__version=1, new=False)
    if app is None:
        raise Conflict("application.not_in_progress")   # withdrawn (or returned) a moment ago
    app.first_act = not app.staff_acted
    app.staff_acted, app.version = True, app.version + 1
    return app


def unmark_acted(app: Application | None) -> None:
    """The action that marked the application failed (the engine refused it, a write lost a race): nothing was
    done, so an application this action first marked may be withdrawn again. Conditional on the version the mark
    left, so a colleague's action that marked it in the meantime keeps it marked."""
    if app is not None and getattr(app, "first_act", False):
        Application.objects(id=app.id, version=app.version, staff_acted=True).update_one(
            set__staff_acted=False, inc__version=1)


def _task_data(task: HumanTask, data: dict | None) -> dict:
    """Task-form data, validated against the task's form version and typed for conditions (workflows/bpmn/task_data.py);
    only the form's fields go on."""
    if not task.form_key:
        if data:
            raise Invalid("task.no_form", errors=[{"path": "/data", "code": "no_form", "message": "task.no_form"}])
        return {}
    return task_data.convert(forms.get_published(task.form_key, task.form_version), data or {})


def complete(actor: Actor, task_id: str, expected_version: int, *, decision: str, comment: str = "",
             signature: str | None = None, data: dict | None = None, documents: list | None = None,
             signers: list | None = None) -> HumanTask:
    """Approve or reject (a comment is required to reject). 不同意 ends the case `rejected` unless the task routes
    rejections; otherwise the process moves on, and the case ends with the outcome of the end it reaches.
    `documents` (the approver's own attachments, e.g. a licence) become the result's documents if the case ends
    approved here. `signers`: the people an approval hands a countersign to, where the process asks this task to
    pick them (workflows/cases/tasks/signers.py)."""
    task, instance = visible_task_and_instance(actor, task_id)
    check_may_act(actor, task, expected_version)
    if task.hand_back_to and task.assignee == actor.user_id:   # a delegate's work comes back, whatever the kind
        return _hand_back(actor, task, expected_version, decision=decision, comment=comment)
    kind = KINDS.get(task.kind)
    if kind is not None:       # no process behind it (a bad rating's follow-up): its room says what it means
        return kind.complete(actor, task, expected_version, decision=decision, comment=comment)
    if decision == "reject" and not comment.strip():
        raise Invalid("task.comment_required", errors=[{"path": "/comment", "code": "required",
                                                         "message": "task.comment_required"}])
    form_data = _task_data(task, data)
    own_files = ([signature] if signature else []) + list(documents or [])
    storage.assert_owned(actor.user_id, own_files)
    outcome = DECISIONS[decision]
    take(actor, task, expected_version, outcome, "done")
    app = None
    try:
        app = mark_acted(task)
        if instance is None:
            raise NotFound()
        # the action's variables win over a task form's field of the same name: the decision is the button's
        process_data = {**form_data, "decision": decision, "approved": decision == "approve", "comment": comment}
        home = task.candidate_departments[0] if task.candidate_departments else ""

        def prepare(engine_task, given):
            if decision != "approve" and not signers:
                return given                 # a rejection picks nobody (unless it names people anyway)
            return {**given, **picked(engine_task, signers, home)}

        # the decision's audit record and the messages of its step go in with the instance's write
        record = audit.build(actor, f"task.{decision}", "task", task.id, application=str(app.id),
                             number=app.number, instance=str(instance.id), task_id=task.task_id)
        owed = case_state.owed_by(app, instance.id, [record], keep={task.task_id}, comment=comment)
        for attempt in range(ENGINE_ATTEMPTS):
            try:
                instance = instances.complete_task(actor, instance, task.task_id, process_data, prepare=prepare,
                                                   audited_by_caller=True, reject=decision == "reject", owed=owed)
                break
            except Conflict as e:
                # Another task of this instance moved it first (a countersign's other signer, at the same
                # moment). This task is still ours (taken above): run it again on the instance as it is now.
                if e.message_key != "workflow.instance_changed" or attempt == ENGINE_ATTEMPTS - 1:
                    raise
                instance = Instance.objects(id=task.instance_id).first()
                if instance is None:
                    raise NotFound() from None
    except BaseException:
        unmark_acted(app)
        put_back(task)
        raise
    storage.grant_read(own_files, str(app.id))
    event = event_for(actor, task, outcome, comment)
    event.signature = signature or ""
    case_state.follow(app, instance, took=task, event=event, comment=comment, decision=outcome,
                      documents=documents or [])
    return task      # as take() wrote it


def event_for(actor: Actor, task: HumanTask, action: str, comment: str = "") -> Event:
    """A timeline line of a staff member's act on `task`: named as residents may read it (names.py), the text
    whole within the line's limit, checked before any write (a line too long must not fail after the act)."""
    department = task.candidate_departments[0] if task.candidate_departments else ""
    event = Event(at=clock.now(), action=action, step=task.name, element_id=task.element_id, department=department,
                  actor_id=actor.user_id, actor_name=staff_name(actor, department), comment=comment[:LINE_MAX])
    event.validate()
    return event


def _hand_back(actor: Actor, task: HumanTask, expected_version: int, *, decision: str, comment: str) -> HumanTask:
    """A delegate or an added signer (before) is done: their opinion is recorded, the task goes back. The row
    moves first (the lock); the opinion's timeline line, its audit record and the owner's message then go in one
    write of the application (a failure there gives the row back to the delegate, so no opinion is lost)."""
    owner = task.hand_back_to
    action = "delegate_done" if task.hand_kind == "delegated" else "signed"
    opinion = Event.line("同意" if decision == "approve" else "不同意", comment)
    event = event_for(actor, task, action, opinion)      # checked before anything is written
    owed = [audit.build(actor, f"task.{action}", "task", task.id, decision=decision, back_to=owner),
            *notify.messages("task_assigned", [owner], task_id=str(task.id), title=f"{task.name}：{task.service_name}",
                             body=opinion[:2000], dedupe=f"hand_back:{task.id}:{expected_version}")]
    move_and_record(task, expected_version, {"assignee": owner, "audience": [f"user:{owner}"], "hand_back_to": None,
                                             "hand_kind": None}, [event], owed, assignee=actor.user_id)
    return task.reload()


def move_and_record(task: HumanTask, expected_version: int, moved: dict, events: list, owed: list,
                    **condition) -> None:
    """Hand a row on: it moves first (the lock: open, this version, `condition`), then its timeline lines, audit
    records and messages go in one write of the case. (Not conditional on the case being open: a 差评回访 is a task
    of an ended case; a person's closing closes the process's rows, so their lock fails first.) If the case is
    gone the row is given back as it was (404), so no opinion is lost."""
    was = {k: list(v) if isinstance(v, list) else v for k, v in ((k, getattr(task, k)) for k in moved)}
    if not HumanTask.objects(id=task.id, version=expected_version, status="open", **condition).update_one(
            **{f"set__{k}": v for k, v in moved.items()}, inc__version=1):
        raise Conflict("task.changed")
    now = clock.now()
    if not Application.objects(id=task.application_id).update_one(
            push_all__timeline=events, set__updated_at=now, inc__version=1, **deferred_records.carry(owed, now)):
        HumanTask.objects(id=task.id, version=expected_version + 1).update_one(
            **{f"set__{k}": v for k, v in was.items()}, inc__version=1)
        raise NotFound()


def return_to_applicant(actor: Actor, task_id: str, expected_version: int, *, reason: str,
                        fields: list | None = None, materials: list | None = None) -> HumanTask:
    """退回补正: the applicant corrects the named fields and materials; the same task waits for them."""
    task = visible_task(actor, task_id)
    check_may_act(actor, task, expected_version)
    if not (fields or materials):
        raise Invalid("task.return_needs_items", errors=[{"path": "/fields", "code": "required",
                                                           "message": "task.return_needs_items"}])
    app = Application.objects(id=task.application_id).only(
        "form_key", "form_version", "number", "applicant_id", "service_name").first()
    names = {f.name for f in form_validation.compiled(cases.form_of(app)).form.fields} if app else set()
    unknown = [i for i, item in enumerate(fields or []) if item["path"][1:] not in names]
    if unknown:
        raise Invalid("task.unknown_field", errors=[{"path": f"/fields/{i}/path", "code": "unknown_field",
                                                     "message": "task.unknown_field"} for i in unknown])
    take(actor, task, expected_version, "returned", "returned")
    now = clock.now()
    request = ReturnRequest(fields=fields or [], materials=materials or [], reason=reason, task_id=task.task_id, at=now)
    event = event_for(actor, task, "returned", reason)
    owed = [audit.build(actor, "task.return", "task", task.id, application=str(task.application_id),
                        fields=[f.get("path") for f in fields or []]),
            *notify.messages("returned", [app.applicant_id], application=app, title=f"{app.service_name} 需要补正",
                             body=reason, dedupe=f"returned:{task.id}:{task.version + 1}")] if app else []
    if app is None or not Application.objects(id=task.application_id, status="submitted").update_one(
            set__status="returned", set__return_request=request, set__staff_acted=True, set__updated_at=now,
            set__paused_at=now, push__timeline=event, inc__version=1,   # the clock stops until supplemented
            **deferred_records.carry(owed, now)):
        put_back(task)
        raise Conflict("application.not_in_progress")
    return task.reload()
