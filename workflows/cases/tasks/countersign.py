"""会签 per case: a signer who has not acted can be taken out (减签) — the countersign then completes by its rule
over the rest, and the case follows the end the process reaches. Picking the signers is workflows/cases/tasks/signers.py.
"""
from __future__ import annotations

from core import audit, clock
from core.actor import Actor
from core.errors import Conflict, Forbidden, NotFound
from workflows.bpmn import instances
from workflows.cases.applications import case_state
from workflows.cases.applications.models import Application
from workflows.bpmn.models import Instance
from workflows.cases.notify import service as notify
from workflows.cases.tasks.models import HumanTask
from workflows.cases.tasks.service import event_for, put_back, visible_task


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
    task.status, task.version = "cancelled", expected_version + 1       # as taken: what put_back looks for
    signer = task.assignee or next(iter(task.candidate_users), "")
    text = f"{signer}{'：' + comment if comment else ''}" if signer else comment
    # its record and the removed signer's message go in with the instance's write
    owed = [audit.build(actor, "task.remove_signer", "task", task.id, application=str(app.id), signer=signer),
            *notify.messages("task_cancelled", [signer], application=app, task_id=str(task.id),
                             title=f"减签：{task.name}", body=comment or "你已不再参与该会签",
                             dedupe=f"removed:{task.id}")]
    try:
        instance = Instance.objects(id=task.instance_id).first()
        if instance is None:
            raise NotFound()
        instance = instances.remove_signer(actor, instance, task.task_id, owed=case_state.owed_by(
            app, instance.id, owed, keep={task.task_id}, comment=comment))
    except BaseException:
        put_back(task)
        raise
    case_state.follow(app, instance, took=task, event=event_for(actor, task, "signer_removed", text), comment=comment)
    return task.reload()
