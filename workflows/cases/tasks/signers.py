"""Who signs a countersign the approver before it picks (docs/bpmn.md, "Countersign"): the countersign's user task
carries `signersMin` and `signersMax`, the task before it `pickSigners` naming the countersign's element. Who may be
picked: the approvers of the countersign's lane department, as the delivery room's people resolver says
(`clock.reminders.people`). Checked inside the engine step of the complete that picks them."""
from __future__ import annotations

from core.errors import Invalid
from workflows.cases.clock import reminders
from workflows.bpmn.engine import spiff
from workflows.cases.tasks import projection

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
