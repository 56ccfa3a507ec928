"""BPMN timers in a workflow: when each is due, which user task a boundary timer hangs on, and firing the due
ones (a designer's test run may fire them early: `at` later than now)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from workflows.bpmn.limits import SandboxViolation


def definitions(definition) -> list:
    """An event's definitions: an event-based gateway (or an event with several definitions) waits for each."""
    return definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]


def _timer_definitions(definition) -> list:
    return [d for d in definitions(definition) if isinstance(d, TimerEventDefinition)]


def pending_due(task) -> datetime | None:
    """When the task's timer is due; None if it has none, or it has fired and the task waits for something else
    (a parallel multiple event): a fired timer left as "due" had the worker claim the instance again and again."""
    internal = task.internal_data
    if not _timer_definitions(task.task_spec.event_definition) or internal.get("event_fired"):
        return None
    if any(isinstance(getattr(e, "event_definition", None), TimerEventDefinition)
           for e in internal.get("seen_events") or ()):
        return None
    return _timer_due(internal.get("event_value"))


def _timer_due(value) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, dict):           # a cycle: {"cycles": left (-1: for ever), "next": ISO time, ...}
            value = value.get("next") if value.get("cycles") != 0 else None
            if value is None:
                return None
        if isinstance(value, str):
            due = TimerEventDefinition.get_datetime(value)
        elif isinstance(value, datetime):
            due = value
        else:
            return None
    except Exception:   # a malformed deadline is reported when the timer runs, not here
        return None
    return due if due.tzinfo else due.replace(tzinfo=timezone.utc)


def next_timer_at(workflow) -> datetime | None:
    times = [t for t in map(pending_due, workflow.event_manager.tasks.values()) if t is not None]
    return min(times) if times else None


def waiting_messages(workflow) -> list[str]:
    return sorted({d.name for t in workflow.event_manager.tasks.values()
                   for d in definitions(t.task_spec.event_definition)
                   if isinstance(d, BpmnMessageEventDefinition)})


def boundary_due_times(workflow) -> dict:
    """Task id of a user task → the earliest deadline of the timers on its boundary."""
    due = {}
    for task in workflow.event_manager.tasks.values():
        when = pending_due(task)
        parent = task.parent
        if when is None or parent is None:
            continue
        # A boundary event hangs off a hidden "BoundaryEventSplit" whose first child is the user task.
        for sibling in parent.children:
            if sibling.task_spec.manual and (sibling.id not in due or when < due[sibling.id]):
                due[sibling.id] = when
    return due


def mark_due(workflow, at: datetime | None) -> tuple[int, list]:
    """Make the timers due by `at` fire at the next refresh. Returns how many, and the cycles to put back
    (`restore_cycles`) once they have fired."""
    at = at or datetime.now(timezone.utc)
    fired, cycles = 0, []
    for task in list(workflow.event_manager.tasks.values()):
        due = pending_due(task)
        if due is None or due > at:
            continue
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            # A cycle compares its next time with the real clock and has no fired flag: make this cycle due
            # now, and put the schedule back (next = this one + the period) once it has fired.
            cycles.append((value, value["cycles"], value["next"]))
            value["next"] = datetime(1970, 1, 1, tzinfo=timezone.utc).isoformat()
        else:
            task.internal_data["event_fired"] = True     # what SpiffWorkflow's own timer check sets when due
        fired += 1
    return fired, cycles


def restore_cycles(cycles: list) -> None:
    for value, count, scheduled in cycles:
        if value.get("cycles") != count:
            value["next"] = (datetime.fromisoformat(scheduled) + timedelta(seconds=value["duration"])).isoformat()
        else:
            value["next"] = scheduled


def refuse_zero_cycles(workflow) -> None:
    """A waiting cycle whose period is zero (one stored before uploads and the sandbox refused them) is due again
    the moment it fires and would spend the action's whole CPU budget firing: an error naming its event instead."""
    for task in workflow.event_manager.tasks.values():
        value = task.internal_data.get("event_value")
        if isinstance(value, dict) and value.get("cycles") != 0 and (value.get("duration") or 0) <= 0:
            error = SandboxViolation("the timer cycle repeats with a period of zero; give it a period", kind="error")
            error.task = task     # the incident names the element
            raise error
