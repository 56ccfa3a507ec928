"""The one case-state writer: what a step of the engine means for the resident's application and the inbox.

Every path that moves a case's process — approve, reject, return to an earlier step, 减签, a timer, a message,
an incident ended by a person, `rebuild-projections` — hands the step (the instance as the engine left it: its revision, the tasks now waiting,
whether and how it ended) to `follow`. It turns it into the application's status, current steps, result and
timeline, and the inbox rows, in this order:

1. the application, in one update conditional on the case being open and on the step's instance revision being
   newer than the one it was last written from (`instance_revision`): a slower request that carries an older step
   changes nothing, and a withdrawn, cancelled or decided case is never reopened;
2. the inbox rows (one bulk write), only by the writer that won 1.

The result is the outcome of the end the process reached (workflows/bpmn/engine/outcome.py), never the last button.
What a person's step owes (its audit record, the messages it causes) rides in the instance's own write, before
this (`owed_by`); a step nobody acted on (a timer) carries its messages in the application's write here.
A crash between the instance's write and 1 leaves a case behind its process: `rebuild-projections` brings it
along through here.

A case closed by a person or its bundle rather than by its process (撤回, a 一件事 part cancelled) goes through
`close`: the application first (the lock), what the act owes in that write, then its process is cancelled and its
inbox rows closed (`stop_behind`). A crash between the two leaves a process running behind a closed case; the
worker's next step of it, or `rebuild-projections`, stops it here too.
"""
from __future__ import annotations

from core import clock
from core import deferred as deferred_records
from core.actor import Actor
from storage import service as storage
from workflows.bpmn import due_timers, instances
from workflows.cases.applications import cases
from workflows.cases.applications.models import OPEN, Application, Event, Result
from workflows.cases.clock import deadlines, reminders
from workflows.bpmn.models import Instance
from workflows.cases.notify import service as notify
from workflows.cases.tasks import projection
from workflows.cases.tasks.models import HumanTask

SAID = {"approved": "已办结", "rejected": "未通过"}


def ended(step) -> bool:
    return step.status == "completed"


def messages(app: Application, instance_id, step, *, keep=(), comment: str = "") -> list:
    """The messages a step causes: those whose waiting task it took away (a countersign decided, a timer, a
    rejection that ended the case) are told, and the applicant once the case has ended. `step` has the step's
    `status`, `outcome` and `ready` (the instance, or the fields `instances._act` passes to `owed`)."""
    waiting = {t["id"] for t in _ready(step)}
    # the steps the case showed before (one query only when some stopped waiting: not on the hot path)
    gone = [s.task_id for s in app.current_steps if s.task_id not in waiting and s.task_id not in keep]
    holders = HumanTask.objects(instance_id=instance_id, status="open", task_id__in=gone).only(
        "id", "assignee", "candidate_users", "name") if gone else []
    found = []
    for row in holders:
        found += notify.messages("task_cancelled", [row.assignee, *row.candidate_users], application=app,
                                 task_id=str(row.id), title=f"{row.name}：{app.service_name}",
                                 body="该环节已有结果，无需再办理", dedupe=f"task_cancelled:{row.id}")
    if _get(step, "status") == "completed":
        outcome = _get(step, "outcome") or "approved"
        found += notify.messages(outcome, [app.applicant_id], application=app,
                                 title=f"{app.service_name} {SAID[outcome]}", body=comment,
                                 dedupe=f"{outcome}:{app.id}")
    return found


def opened(app: Application, rows: list[dict], previous=(), revision: int | None = None) -> list:
    """"A task opened" (待办), once, to the people who can act on each row that was not waiting before: its holder
    or picked signer, else every approver of its department (one look-up for all of them)."""
    new = [r for r in rows if r["task_id"] not in previous]
    pool = {r["candidate_departments"][0] for r in new
            if not r["assignee"] and not r["candidate_users"] and r["candidate_departments"]}
    approvers = reminders.people(pool, "approver") if pool else {}
    found = []
    for row in new:
        who = [row["assignee"]] if row["assignee"] else row["candidate_users"] or \
            approvers.get(row["candidate_departments"][0] if row["candidate_departments"] else "", [])
        who = [u for u in who if u not in row.get("recused", ())]     # 回避: not the applicant or their helper
        found += notify.messages("task_assigned", who, application=app, title=f"{row['name']}：{app.service_name}",
                                 body=f"办件编号 {app.number or ''}",
                                 dedupe=f"opened:{app.id}:{row['task_id']}:{revision or 0}")
    return found


def owed_by(app: Application, instance_id, records: list, *, keep=(), comment: str = ""):
    """For `instances.complete_task(owed=…)`: the caller's records and the messages of the step, made once the
    engine has run and written with the instance."""
    return lambda step: [*records, *messages(app, instance_id, step, keep=keep, comment=comment)]


def follow(app: Application, instance: Instance, *, took=None, event: Event | None = None, comment: str = "",
           decision: str | None = None, documents=(), carry_messages: bool = False, owed=()) -> bool:
    """Write what `instance` (as a step just left it, with `ready`) means for the case; False when a newer step
    was written first or the case is no longer open (nothing is written then).
    `took`: the inbox row this action took (left as the action wrote it). `decision`: the person's, for the
    result's reason when it agrees with the end reached. `carry_messages`: no person's write carried the step's
    messages (a timer): they go in with this one."""
    now = clock.now()
    keep = {took.task_id} if took is not None else set()
    case = cases.case_info(app, instance.process_version_id)
    rows = [] if ended(instance) else projection.rows(case, _ready(instance))
    changes = {"set__current_steps": cases.steps_from(rows), "set__updated_at": now,
               "set__instance_revision": instance.revision}
    timeline = [event] if event is not None else []
    if app.status == "returned" and not ended(instance) and not _still_waits(app, rows):
        # the step waiting for 补正 was taken away (an interrupting timer): the case goes on without it
        moved = deadlines.resume(app.paused_at, app.due_at, app.remind_at, now)
        changes.update(set__status="submitted", set__return_request=None, set__paused_at=None,
                       set__due_at=moved.due_at, set__remind_at=moved.remind_at)
        timeline.append(Event(at=now, action="return_cancelled", comment="补正环节已由流程结束",
                              paused_days=moved.paused_days))
    if ended(instance):
        outcome = instance.outcome or "approved"
        reason = comment if decision in (None, outcome) else ""
        changes.update(set__status=outcome, set__result=Result(
            decision=outcome, reason=reason, documents=list(documents) if outcome == "approved" else [], at=now),
            set__stats_due_at=now, set__return_request=None)
        if outcome == "approved":
            changes["set__documents_due_at"] = now       # the 电子证照: the worker's (materials/results.py)
        if app.bundle_id:
            changes["set__bundle_due_at"] = now          # the bundle moves on in the worker (bundles/cases.py)
    if timeline:
        changes["push_all__timeline"] = timeline
    previous = [s.task_id for s in app.current_steps]
    carried = [*owed, *(messages(app, instance.id, instance, keep=keep, comment=comment) if carry_messages else []),
               *opened(app, rows, previous, instance.revision)]
    changes.update(deferred_records.carry(carried, now))
    # older than this step, or never written from one (missing): one predicate, no $or (SecantusDB plans an $or
    # as a scan of each branch)
    newer = {"instance_revision": {"$not": {"$gte": instance.revision}}}
    if not Application.objects(id=app.id, status__in=OPEN, __raw__=newer).update_one(inc__version=1, **changes):
        if event is not None:
            # a newer step was written first (a countersigner's colleague at the same moment), or the case closed:
            # what this person did still happened, and the timeline shows it
            Application.objects(id=app.id).update_one(push__timeline=event, inc__version=1)
        return False
    projection.sync(case, _ready(instance), previous, keep=keep, made=rows, revision=instance.revision,
                    ended=ended(instance))
    return True


CLOSED_BY_PERSON = ("withdrawn", "cancelled")


def close(app: Application, actor: Actor, *, status: str, event: Event, owed=(), only_if=None) -> bool:
    """Close a case its process did not end (`status` withdrawn or cancelled): False, and nothing written, unless
    it is still open and matches `only_if` (the fields a caller's check read: version, staff_acted, status__in)."""
    now = clock.now()
    conditions = {"status__in": OPEN, **(only_if or {})}
    changes = {"set__status": status, "set__current_steps": [], "set__return_request": None, "set__updated_at": now,
               "set__stats_due_at": now, "push__timeline": event, "inc__version": 1,
               **deferred_records.carry(list(owed), now)}
    if app.bundle_id:
        changes["set__bundle_due_at"] = now          # its bundle moves on in the worker (bundles/cases.py)
    if not Application.objects(id=app.id, **conditions).update_one(**changes):
        return False
    stop_behind(app.id, app.instance_id, actor)
    return True


def stop_behind(app_id, instance_id, actor: Actor | None = None) -> None:
    """What runs behind a closed case stops: its process is cancelled (an action in flight on it then fails its
    conditional write), its inbox rows are closed, its files' read grants go. Each step is idempotent."""
    if instance_id:
        instances.cancel(actor or Actor.system(), instance_id)      # (conditional: nothing for one gone or ended)
        projection.cancel_all(instance_id)
    storage.release(str(app_id))


def follow_instance(instance: Instance) -> bool:
    """A step nobody acted on (a timer fired, a message arrived): the case follows it, the step's messages with
    it. The worker hands every timer step here. A process still running behind a case a person closed (a crash
    between `close`'s two writes) is stopped instead."""
    if not instance.application_id:
        return False                          # a designer's test run
    app = Application.objects(id=instance.application_id).exclude(
        "data_json", "deferred", "stats_counted", "timeline").first()
    if app is not None and app.status in CLOSED_BY_PERSON:
        stop_behind(app.id, instance.id)
        return False
    return app is not None and app.status in OPEN and follow(app, instance, carry_messages=True)


def fire_due_timers(actor=None, now=None, limit: int = 100, **options):
    """The timer worker's pass (workflows/bpmn/due_timers.py) with every step it fires followed by its case."""
    return due_timers.fire_due_timers(actor, now, limit, on_step=follow_instance, **options)


def _still_waits(app: Application, rows: list[dict]) -> bool:
    wanted = app.return_request.task_id if app.return_request else None
    return wanted is None or any(r["task_id"] == wanted for r in rows)


def _ready(step) -> list:
    return _get(step, "ready") or []


def _get(step, name):
    return step.get(name) if isinstance(step, dict) else getattr(step, name, None)
