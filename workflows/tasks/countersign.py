"""会签 per case: the approver before a countersign picks its signers, within the bounds the process declares, and
a signer who has not acted can be taken out (减签) — the countersign then completes by its rule over the rest.

The process declares it (docs/bpmn.md, "Countersign"): the countersign's user task carries `signersMin` and
`signersMax`, the task before it `pickSigners` naming the countersign's element. Who may be picked: the approvers
of the countersign's lane department, as the delivery room's people resolver says (`clock.reminders.people`).
"""
from __future__ import annotations

from core import audit, clock
from core.actor import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from workflows import instances
from workflows.applications.models import Application
from workflows.clock import reminders
from workflows.engine import spiff
from workflows.models import Instance
from workflows.notify import service as notify
from workflows.tasks import projection
from workflows.tasks.models import HumanTask
from workflows.tasks.service import DECISIONS, event_for, follow_engine, put_back, visible_task

MAX_SIGNERS = 50


def _signers_error(key: str, pointer: str = "/signers", code: str = "invalid", **detail) -> Invalid:
    return Invalid(key, errors=[{"path": pointer, "code": code, "message": key, **detail}])


def _bound(properties: dict, name: str, default: int, element: str) -> int:
    try:
        value = int(properties.get(name, default))
    except (TypeError, ValueError):
        raise Invalid("task.countersign_declared_wrongly", errors=[{
            "path": element, "element_id": element, "code": "bad_property",
            "message": f"{name} must be a whole number"}]) from None
    return max(1, min(value, MAX_SIGNERS))


def picked(engine_task, signers: list | None, fallback_department: str) -> dict:
    """Inside the engine step of a complete: the process data that hands the picked signers to the countersign
    this task picks for ({input variable: [user ids]}), checked; {} for a task that picks for none."""
    target = spiff.properties(engine_task.task_spec).get(spiff.PICK_SIGNERS)
    if not target:
        if signers:
            raise _signers_error("task.no_signers_to_pick", code="not_expected")
        return {}
    found = spiff.picked_countersign(engine_task.workflow, target)
    if found is None:
        element = engine_task.task_spec.bpmn_id
        raise Invalid("task.countersign_declared_wrongly", errors=[{
            "path": element, "element_id": element, "code": "no_countersign",
            "message": f"{spiff.PICK_SIGNERS} names {target!r}, which is no parallel multi-instance task"}])
    countersign, user_task = found
    properties = spiff.properties(user_task)
    low = _bound(properties, spiff.SIGNERS_MIN, 1, target)
    high = max(low, _bound(properties, spiff.SIGNERS_MAX, MAX_SIGNERS, target))
    signers = list(signers or [])
    if len(set(signers)) != len(signers):
        raise _signers_error("task.signers_repeated", code="duplicate")
    if not low <= len(signers) <= high:
        raise _signers_error("task.signers_count", code="count", min=low, max=high)
    department = projection.departments_of({user_task.lane}).get(user_task.lane) if user_task.lane else None
    department = department or fallback_department
    allowed = set(reminders.people({department}, "approver").get(department, []))
    refused = [i for i, user_id in enumerate(signers) if user_id not in allowed]
    if refused:
        raise Invalid("task.target_not_allowed", errors=[{"path": f"/signers/{i}", "code": "not_allowed",
                                                          "message": "task.target_not_allowed"} for i in refused])
    return {countersign.data_input.bpmn_id: signers}


def remove_signer(actor: Actor, task_id: str, expected_version: int, *, comment: str = "") -> HumanTask:
    """减签: an approver of the countersign's department takes out a signer who has not acted. The row is taken
    first (the lock, as for a complete), then the engine removes the instance and perhaps decides the countersign;
    a failure puts the row back."""
    task = visible_task(actor, task_id)
    if task.status != "open":
        raise Conflict("task.not_open")
    if not (actor.is_admin or set(task.candidate_departments) & actor.department_ids("approver")):
        raise Forbidden("task.not_your_task")
    if task.version != expected_version:
        raise Conflict("task.changed")
    app = Application.objects(id=task.application_id, status="submitted").first()
    if app is None:
        raise Conflict("application.not_in_progress")
    if not HumanTask.objects(id=task.id, version=expected_version, status="open").update_one(
            set__status="cancelled", set__outcome="removed", set__completed_at=clock.now(), inc__version=1):
        raise Conflict("task.changed")
    try:
        instance = Instance.objects(id=task.instance_id).first()
        if instance is None:
            raise NotFound()
        instance = instances.remove_signer(actor, instance, task.task_id)
    except BaseException:
        put_back(task)
        raise
    signer = task.assignee or next(iter(task.candidate_users), "")
    last = next((e.action for e in reversed(app.timeline) if e.action in DECISIONS.values()), "approved")
    text = f"{signer}{'：' + comment if comment else ''}" if signer else comment
    follow_engine(app, task, instance, event_for(actor, task, "signer_removed", text), last, comment, [])
    audit.record(actor, "task.remove_signer", "task", task.id, application=str(app.id), signer=signer)
    notify.enqueue("task_cancelled", [signer], application=app, task_id=str(task.id), title=f"减签：{task.name}",
                   body=comment or "你已不再参与该会签", dedupe=f"removed:{task.id}")
    return task.reload()
