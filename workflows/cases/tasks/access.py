"""Who may see and who may act on an inbox row.

A task is visible to admins, to approvers and leads of its candidate departments, to its candidate users, its
assignee and whoever completed it — anyone else gets 404. Acting needs an open task that is unclaimed or claimed
by the caller, as an approver of its department or a named user (403 otherwise: they can see it, not act on it),
and the task's `version` (409 if stale).

回避 (recusal): nobody acts on a case they applied for, or one a helper (帮办代办) they are submitted for the
applicant. The row names them (`HumanTask.recused`, written with the row from the application): it is not in their
待办 and every action of theirs on it is 403 `task.recusal`; the task stays in the department's pool for a colleague.
"""
from __future__ import annotations

from core import clock
from core.actor import Actor
from core.errors import Conflict, Forbidden, NotFound
from workflows.bpmn.models import Instance
from workflows.cases.tasks.models import HumanTask


class Recused(Forbidden):
    """The caller applied for this case, or submitted it for the applicant as their helper."""
    code = "task.recusal"


def audience(actor: Actor) -> list[str]:
    return [f"user:{actor.user_id}"] + [f"dept:{d}" for d in sorted(actor.department_ids("approver"))]


def visible(actor: Actor, task: HumanTask) -> bool:
    if actor.is_admin or actor.user_id in (task.assignee, task.completed_by) or actor.user_id in task.candidate_users:
        return True
    # a department's lead sees its tasks (an overdue case escalates to them) but acts only if also an approver
    return bool(set(task.candidate_departments) & (actor.department_ids("approver") | actor.department_ids("lead")))


def visible_task(actor: Actor, task_id: str) -> HumanTask:
    oid = clock.parse_id(task_id)
    task = HumanTask.objects(id=oid).first() if oid else None
    if task is None or not visible(actor, task):
        raise NotFound()
    return task


def visible_task_and_instance(actor: Actor, task_id: str) -> tuple[HumanTask, Instance | None]:
    """`visible_task`, with the task's process instance read in the same round trip (a `$lookup`)."""
    oid = clock.parse_id(task_id)
    found = list(HumanTask._get_collection().aggregate([
        {"$match": {"_id": oid}},
        {"$lookup": {"from": Instance._get_collection_name(), "localField": "instance_id", "foreignField": "_id",
                     "as": "instance"}}])) if oid else []
    if not found:
        raise NotFound()
    instance = found[0].pop("instance")
    task = HumanTask._from_son(found[0])
    if not visible(actor, task):
        raise NotFound()
    return task, Instance._from_son(instance[0]) if instance else None


def check_not_recused(actor: Actor, task: HumanTask) -> None:
    if actor.user_id in (task.recused or ()):
        raise Recused("task.recusal")


def may_act_now(actor: Actor, task: HumanTask) -> bool:
    """Open, not someone else's, and the caller's to act on (a named user or an approver of its department)."""
    if task.status != "open" or (task.assignee and task.assignee != actor.user_id):
        return False
    return task.assignee == actor.user_id or actor.user_id in task.candidate_users or bool(
        set(task.candidate_departments) & actor.department_ids("approver"))


def check_may_act(actor: Actor, task: HumanTask, expected_version: int) -> None:
    check_not_recused(actor, task)
    if task.status != "open":
        raise Conflict("task.not_open")
    if task.assignee and task.assignee != actor.user_id:
        raise Forbidden("task.claimed_by_other")
    if not may_act_now(actor, task):
        raise Forbidden("task.not_your_task")
    if task.version != expected_version:
        raise Conflict("task.changed")
