"""How a process ends, in the terms of the case above it (docs/bpmn.md, "办结结果"): which end event it reached and
the outcome that end declares, and what 不同意 at a user task does.

- An end event declares the case's outcome as a SpiffWorkflow property, like a user task's form:
  `<spiffworkflow:property name="outcome" value="approved|rejected"/>`. An end that declares none is an approval
  (a process with several ends must declare one on each: workflows/bpmn/validation.py checks it at publish).
- 不同意 at a user task ends the process at once, `rejected`, unless the task declares `onReject="route"`; then
  the action's `approved` / `decision` reach the gateways and the end reached decides. A countersign's instance
  always routes: each signer's opinion is counted by the countersign's rule.
"""
from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState

from workflows.bpmn.engine.spiff import countersign_of, properties
from workflows.bpmn.limits import set_checked

OUTCOME, ON_REJECT = "outcome", "onReject"
OUTCOMES = ("approved", "rejected")
APPROVED, REJECTED = OUTCOMES


@dataclass(frozen=True)
class Ending:
    """Where a process ended: the end event reached (or the user task whose 不同意 ended it) and the outcome."""
    element_id: str
    outcome: str


def end_reached(workflow) -> Ending | None:
    """The end the main process reached (None while it runs). Parallel branches may reach several ends: one that
    declares `rejected` decides, else the latest."""
    ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.workflow is workflow and isinstance(t.task_spec, EndEvent)]
    if not ends:
        return None
    declared = [(t, declared_outcome(t.task_spec) or APPROVED) for t in ends]
    rejected = [t for t, outcome in declared if outcome == REJECTED]
    task = (rejected or sorted(ends, key=lambda t: t.last_state_change))[-1]
    return Ending(task.task_spec.bpmn_id, REJECTED if rejected else APPROVED)


def declared_outcome(spec) -> str | None:
    value = properties(spec).get(OUTCOME)
    return value if value in OUTCOMES else None


def routes_rejection(task) -> bool:
    """Whether 不同意 at this waiting task goes on through the process (a countersign's signer, or a task that
    declares onReject="route") instead of ending the case."""
    return countersign_of(task) is not None or properties(task.task_spec).get(ON_REJECT) == "route"


def end_rejected(workflow, task, data: dict) -> Ending:
    """不同意 that ends the case: the opinion stays on the task, every open task and timer is cancelled and the
    process is over; no later step opens. The data is held to the limits a completion's is (Engine.complete):
    a rejection took any size the state could hold."""
    if data:
        set_checked(task, data, workflow.script_engine.sandbox.limits)
    workflow.cancel()
    return Ending(task.task_spec.bpmn_id, REJECTED)
