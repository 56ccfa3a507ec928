"""What approvers expect on a phone beyond approve and reject: return to an earlier step (退回), transfer (转办),
delegate (委派), add a signer before or after me (加签), batch approve, and the applicant's urge (催办). Copies
(抄送): workflows/cases/tasks/copies.py.

Transfer, delegate and added signers change who holds the task, never the process: the row's assignee and
audience move, and `hand_back_to` says to whom a delegated or pre-signed task comes back. The person they hand
to arrives as a plain `Actor` value resolved by the delivery room, and must be an approver of the task's
department. Every action takes the task's `version` (409 if stale), writes the timeline and the audit log.
"""
from __future__ import annotations

from datetime import timedelta


from core import audit, clock, throttle
from core import deferred as deferred_records
from core.actor import Actor
from core.errors import Conflict, DomainError, Invalid, NotFound, TooManyRequests
from workflows.bpmn import instances
from workflows.cases.applications import case_state, cases
from workflows.cases.applications.models import Application, Event
from workflows.cases.clock import reminders
from workflows.bpmn.models import Instance
from workflows.cases.notify import service as notify
from workflows.cases.tasks.models import HumanTask
from workflows.cases.tasks.names import staff_name
from workflows.cases.tasks.service import (check_may_act, event_for, mark_acted, move_and_record, put_back, take,
                                     unmark_acted, visible_task)
from workflows.cases.tasks.service import complete as complete_task

URGE_INTERVAL = timedelta(days=1)
MAX_BATCH = 50


def _eligible(task: HumanTask, target: Actor) -> None:
    if target.user_id == "" or not (set(task.candidate_departments) & target.department_ids("approver")) \
            or target.user_id in (task.recused or ()):       # 回避: not to the applicant or their helper either
        raise Invalid("task.target_not_allowed", errors=[{"path": "/user_id", "code": "not_allowed",
                                                          "message": "task.target_not_allowed"}])


def _reassign(actor: Actor, task: HumanTask, expected_version: int, target: Actor, *, action: str, comment: str,
              hand_back_to: str | None, hand_kind: str | None, opinion: Event | None = None) -> HumanTask:
    """The row moves to the target first (the lock); then the timeline lines, the audit record and the target's
    message go in one write of the application (if that fails, the row is given back)."""
    check_may_act(actor, task, expected_version)
    _eligible(task, target)
    if target.user_id == actor.user_id:
        raise Invalid("task.target_is_you", errors=[{"path": "/user_id", "code": "self",
                                                     "message": "task.target_is_you"}])
    home = task.candidate_departments[0] if task.candidate_departments else ""
    events = ([opinion] if opinion else []) + [
        event_for(actor, task, action, Event.line(staff_name(target, home), comment))]   # checked before writing
    owed = [audit.build(actor, f"task.{action}", "task", task.id, to=target.user_id),
            *notify.messages(action, [target.user_id], task_id=str(task.id), title=f"{task.name}：{task.service_name}",
                             body=comment, data={"from": staff_name(actor, home)},
                             dedupe=f"{action}:{task.id}:{expected_version}")]
    move_and_record(task, expected_version, {
        "assignee": target.user_id, "audience": [f"user:{target.user_id}"], "hand_back_to": hand_back_to,
        "hand_kind": hand_kind, "candidate_users": list(dict.fromkeys([*task.candidate_users, target.user_id]))},
        events, owed)
    return task.reload()


def transfer(actor: Actor, task_id: str, expected_version: int, target: Actor, *, comment: str = "") -> HumanTask:
    """转办: the task becomes the target's, for good."""
    return _reassign(actor, visible_task(actor, task_id), expected_version, target, action="transferred",
                     comment=comment, hand_back_to=None, hand_kind=None)


def delegate(actor: Actor, task_id: str, expected_version: int, target: Actor, *, comment: str = "") -> HumanTask:
    """委派: the target works on it (their opinion goes on the timeline) and it comes back to me to decide."""
    return _reassign(actor, visible_task(actor, task_id), expected_version, target, action="delegated", comment=comment,
                     hand_back_to=actor.user_id, hand_kind="delegated")


def add_signer(actor: Actor, task_id: str, expected_version: int, target: Actor, *, position: str,
               comment: str = "", decision: str = "approve") -> HumanTask:
    """加签. Before me: the signer gives an opinion first, then the task comes back to me. After me: my opinion
    goes on the timeline and the signer decides in my place (their decision moves the process)."""
    task = visible_task(actor, task_id)
    if position == "before":
        return _reassign(actor, task, expected_version, target, action="signer_added", comment=comment,
                         hand_back_to=actor.user_id, hand_kind="signer_before")
    if decision not in ("approve", "reject"):
        raise Invalid("validation_failed", errors=[{"path": "/decision", "code": "invalid", "message": decision}])
    check_may_act(actor, task, expected_version)
    app = mark_acted(task)
    try:   # my opinion goes on the timeline with the hand-over, or neither does
        return _reassign(actor, task, expected_version, target, action="signer_added", comment=comment,
                         hand_back_to=None, hand_kind="signer_after",
                         opinion=event_for(actor, task, "approved" if decision == "approve" else "rejected", comment))
    except BaseException:
        unmark_acted(app)
        raise


# -- return to an earlier step ---------------------------------------------------------------------------------

def return_targets(actor: Actor, task_id: str) -> list[dict]:
    """The earlier user tasks this case may be sent back to (退回到任意已办节点)."""
    task = visible_task(actor, task_id)
    instance = Instance.objects(id=task.instance_id).first()
    if instance is None:
        raise NotFound()
    return [{"element_id": t["element_id"], "name": t["name"]} for t in instances.completed_user_tasks(instance)
            if t["element_id"] != task.element_id]


def return_to_step(actor: Actor, task_id: str, expected_version: int, *, element_id: str,
                   comment: str) -> HumanTask:
    task = visible_task(actor, task_id)
    check_may_act(actor, task, expected_version)
    if element_id not in {t["element_id"] for t in return_targets(actor, task_id)}:
        raise Invalid("workflow.not_an_earlier_step", errors=[{"path": "/element_id", "code": "not_found",
                                                               "message": "workflow.not_an_earlier_step"}])
    take(actor, task, expected_version, "sent_back", "done")
    app = None
    try:
        app = mark_acted(task)
        instance = Instance.objects(id=task.instance_id).first()
        if instance is None:
            raise NotFound()
        record = audit.build(actor, "task.return_to_step", "task", task.id, to=element_id)
        instance = instances.return_to(actor, instance, element_id, owed=case_state.owed_by(
            app, instance.id, [record], keep={task.task_id}, comment=comment))
    except BaseException:
        unmark_acted(app)
        put_back(task)
        raise
    case_state.follow(app, instance, took=task, event=event_for(actor, task, "sent_back", comment), comment=comment)
    return task.reload()


# -- copies, batches, urging -----------------------------------------------------------------------------------

def batch_complete(actor: Actor, items: list[dict], *, decision: str, comment: str = "") -> list[dict]:
    """Each task checked and written on its own; the answer lists each outcome (a failure stops nothing)."""
    results = []
    for item in items[:MAX_BATCH]:
        try:
            complete_task(actor, item["id"], item["version"], decision=decision, comment=comment)
            results.append({"id": item["id"], "status": 200, "code": "ok"})
        except DomainError as e:
            results.append({"id": item["id"], "status": e.status, "code": e.code, "message_key": e.message_key})
    return results


def urge(actor: Actor, app_id: str) -> Application:
    """催办: the applicant nudges the current handlers, at most once a day: a claimed task's assignee, a picked
    signer, and for a task nobody has claimed yet its department's approvers. Their messages and the audit record
    go in with the application's write (core/deferred.py)."""
    app = cases.owned(actor, app_id)
    if app.status != "submitted":
        raise Conflict("application.not_in_progress")
    throttle.hit("urges", actor.user_id)    # 429 past the resident's 催办 of the day, across cases
    now = clock.now()
    handlers = _handlers(HumanTask.objects(application_id=app.id, status="open").only(
        "assignee", "candidate_users", "candidate_departments", "recused"))
    owed = [audit.build(actor, "application.urge", "application", app.id, handlers=len(handlers)),
            *notify.messages("urged", handlers, application=app, title=f"催办：{app.service_name}",
                             body=app.number or "", dedupe=f"urge:{app.id}:{now:%Y%m%d%H%M}")]
    # not urged within the interval (never, or before it); no `$or`, which made the embedded database read every
    # application to find this one
    changed = Application.objects(id=app.id, status="submitted",
                                  __raw__={"last_urged_at": {"$not": {"$gt": now - URGE_INTERVAL}}}).update_one(
        set__last_urged_at=now, push__timeline=Event(at=now, action="urged", actor_id=actor.user_id,
                                                     actor_name=actor.username), inc__version=1,
        **deferred_records.carry(owed, now))
    if not changed:
        raise TooManyRequests("application.urge_too_often", retry_after=int(URGE_INTERVAL.total_seconds()))
    return app.reload()


def _handlers(rows) -> list[str]:
    """Who can act on these open rows now: the holder or picked signer, else every approver of the department;
    never someone the row recuses (回避: the applicant, their helper)."""
    pool = {d for r in rows if not r.assignee and not r.candidate_users for d in r.candidate_departments}
    approvers = reminders.people(pool, "approver") if pool else {}
    found = []
    for r in rows:
        who = [r.assignee] if r.assignee else list(r.candidate_users) or \
            [u for d in r.candidate_departments for u in approvers.get(d, [])]
        found += [u for u in who if u not in (r.recused or ())]
    return list(dict.fromkeys(found))


