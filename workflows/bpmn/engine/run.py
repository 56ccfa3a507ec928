"""The BPMN engine: run workflows in the sandbox, keep state-only JSON.

Nothing here touches the database. The service modules load and store; this module turns specs and state into
workflows and back. Every workflow it hands out runs on the sandboxed script engine: at creation and after every
restore (the script engine is not serialized; a restored workflow would otherwise silently run on SpiffWorkflow's
default, unrestricted engine). The SpiffWorkflow classes it builds are ours (engine/spiff.py); parsing and the
spec cache are in engine/specs.py, timers in engine/timers.py, the path in engine/path.py.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from workflows.bpmn.engine import timers
from workflows.bpmn.engine.specs import ENCODER, SERIALIZER
from workflows.bpmn.engine.spiff import BoundedWorkflow, StepLimitExceeded, countersign_of, picked_signer
from workflows.bpmn.limits import DEFAULT_LIMITS, DataLimitExceeded, check_data, set_checked
from workflows.bpmn.sandbox import Sandbox, SandboxScriptEngine, action_budget, action_over


def _specs(spec_json: str):
    """A published version's stored specs: the process's and its called subprocesses' (by name)."""
    specs = json.loads(spec_json)
    return (SERIALIZER.from_dict(specs["spec"]),
            {k: SERIALIZER.from_dict(v) for k, v in specs["subprocess_specs"].items()})


class Engine:
    """Start, restore, move and save workflows; always on the sandboxed script engine."""

    def __init__(self, sandbox: Sandbox | None = None):
        self.script_engine = SandboxScriptEngine(sandbox or Sandbox())
        self.limits = self.script_engine.sandbox.limits

    # --- lifecycle ---

    def new(self, spec_json: str, data: dict | None = None) -> BpmnWorkflow:
        spec, subprocess_specs = _specs(spec_json)
        workflow = BoundedWorkflow(spec, subprocess_specs, script_engine=self.script_engine,
                                   max_tasks=self.limits.max_tasks)
        if data:
            check_data(data, self.limits, what="the start data")
            workflow.task_tree.data.update(data)
            for task in workflow.task_tree.children:
                task.data.update(data)
        return workflow

    def restore(self, spec_json: str, state_json: str) -> BpmnWorkflow:
        dct = json.loads(state_json)
        SERIALIZER.migrate(dct)
        specs = json.loads(spec_json)
        dct["spec"], dct["subprocess_specs"] = specs["spec"], specs["subprocess_specs"]
        workflow = SERIALIZER.from_dict(dct)
        workflow.script_engine = self.script_engine   # never the unrestricted default
        workflow.max_tasks = self.limits.max_tasks
        return workflow

    def dump(self, workflow: BpmnWorkflow) -> str:
        dct = SERIALIZER.to_dict(workflow)
        dct[SERIALIZER.VERSION_KEY] = SERIALIZER.VERSION
        # Task data deltas are not converted by to_dict: the encoder gives dates and Decimals their JSON form.
        text = json.dumps(dct, separators=(",", ":"), ensure_ascii=False, cls=ENCODER)
        try:
            size = len(text) if text.isascii() else len(text.encode("utf-8"))   # MongoDB stores UTF-8 bytes
        except UnicodeEncodeError:
            # "\ud800" from a script passes every size check and then fails the database write (a 500)
            raise DataLimitExceeded("the process data holds text with an unpaired surrogate (not valid Unicode)") \
                from None
        if size > self.limits.max_state_bytes:
            # every task keeps its own copy of the data: many tasks x large data outgrow a MongoDB document
            raise DataLimitExceeded(f"the process state would be larger than {self.limits.max_state_bytes} bytes")
        return text

    def steps(self, workflow: BpmnWorkflow):
        """do_engine_steps under the action's budget. Each expression has its own CPU limit; this bounds how
        many run: a loop drawn in BPMN, or a call activity calling itself, would otherwise never stop."""
        timers.refuse_zero_cycles(workflow)
        with action_budget(self.limits) as deadline:
            self._steps(workflow, deadline)

    def _steps(self, workflow: BpmnWorkflow, deadline: float):
        limits = self.limits
        count = 0

        def check(task):
            nonlocal count
            count += 1
            if count > limits.max_steps:
                raise StepLimitExceeded(f"more than {limits.max_steps} steps without waiting for a person "
                                        "(a loop in the process?)", task)
            if time.thread_time() > deadline:
                raise StepLimitExceeded(action_over(limits), task)
            if len(workflow.tasks) > limits.max_tasks:
                raise StepLimitExceeded(f"more than {limits.max_tasks} tasks in one process", task, "memory")
            if getattr(task.workflow, "depth", 0) > limits.max_call_depth:
                # each nested call costs SpiffWorkflow more than the one before (it walks every level to place it)
                caller = workflow.get_task_from_id(task.workflow.parent_task_id)   # name the call activity
                raise StepLimitExceeded(f"call activities nested more than {limits.max_call_depth} deep "
                                        "(a process calling itself?)", caller or task)
            if task.depth > limits.max_task_depth:
                raise StepLimitExceeded("the process went round a loop too often "
                                        f"(more than {limits.max_task_depth} steps deep)", task)

        workflow.do_engine_steps(will_complete_task=check)

    # --- moving on ---

    def run(self, workflow: BpmnWorkflow):
        self.steps(workflow)

    def complete(self, workflow: BpmnWorkflow, task_id: str, data: dict | None = None):
        task = self.ready_task(workflow, task_id)
        if data:
            set_checked(task, data, self.limits)
        with action_budget(self.limits):     # the task's post-script draws on the same budget as the steps
            task.run()
            self.steps(workflow)
        return task

    @staticmethod
    def completed_user_tasks(workflow: BpmnWorkflow) -> list[dict]:
        """The user tasks done so far, oldest first, one per element (the latest run of it)."""
        latest = {}
        for task in workflow.get_tasks(state=TaskState.COMPLETED, manual=True):
            spec = task.task_spec
            if task.last_state_change >= latest.get(spec.bpmn_id, (0, None))[0]:
                latest[spec.bpmn_id] = (task.last_state_change, task, spec.bpmn_name or spec.bpmn_id, spec.lane)
        ordered = sorted(latest.items(), key=lambda item: item[1][0])
        return [{"element_id": element, "name": name, "lane": lane, "task_id": str(task.id)}
                for element, (_, task, name, lane) in ordered]

    def return_to(self, workflow: BpmnWorkflow, element_id: str):
        """退回: run the process again from the latest completed run of that user task (it waits again)."""
        found = [t for t in self.completed_user_tasks(workflow) if t["element_id"] == element_id]
        if not found:
            return False
        workflow.reset_from_task_id(UUID(found[0]["task_id"]))
        # the reset drops the later steps, but not the timers waiting on them from the event manager's list (a
        # boundary timer of the step sent back from): the next engine step would update a task that is gone
        for waiting in list(workflow.event_manager.tasks.values()):
            if waiting.parent is None or waiting.id not in waiting.workflow.tasks:
                workflow.event_manager.remove_task(waiting)
        self.steps(workflow)
        return True

    def migrate(self, workflow: BpmnWorkflow, spec_json: str) -> list[str]:
        """Move a restored workflow onto another published version of its process (a designer's fix): every task
        keeps its state and data under the element of the same id in the new version, and what follows a waiting
        task is planned from the new version when it completes. Returns the ids of elements the workflow has
        used or planned that the new version lacks; it is moved only when there are none (SpiffWorkflow's
        `diff_workflow`; no task is reset, so a waiting timer keeps its due time)."""
        spec, called = _specs(spec_json)
        top, below = diff_workflow(SERIALIZER.registry, workflow, spec, called)
        missing = {task.task_spec.name for task in top.removed}
        for sub_id, diff in below.items():
            sub = workflow.subprocesses[sub_id]
            missing |= {sub.spec.name} if diff is None else {task.task_spec.name for task in diff.removed}
        if missing:
            return sorted(missing)
        for sub_id, diff in [(None, top), *below.items()]:
            moving = workflow if sub_id is None else workflow.subprocesses[sub_id]
            moving.spec = spec if sub_id is None else called[moving.spec.name]
            for task in moving.tasks.values():
                if diff.alignment.get(task) is not None:
                    task.task_spec = diff.alignment[task]
        workflow.subprocess_specs = called
        return []

    def amend(self, task, data: dict):
        """Change the data of a waiting task (nothing runs). A boundary event waiting beside it (a timer that may
        take the task away) carries the data of before: its branch sees the correction too."""
        set_checked(task, data, self.limits)
        waiting = [t for t in (task.parent.children if task.parent is not None else [])
                   if t is not task and not t.has_state(TaskState.FINISHED_MASK)]
        if waiting:
            task.parent.set_data(**data)          # a boundary event takes its data from here when it fires
            for sibling in waiting:
                sibling.set_data(**data)

    def message(self, workflow: BpmnWorkflow, name: str, payload: dict | None = None):
        payload = payload or {}
        check_data(payload, self.limits, what="the message payload")
        with action_budget(self.limits):
            workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload))
            self.steps(workflow)

    def fire_timers(self, workflow: BpmnWorkflow, at: datetime | None = None) -> int:
        """Fire timers due by `at` (default now). A later `at` lets a designer's test run skip ahead."""
        with action_budget(self.limits):
            return self._fire_timers(workflow, at)

    def _fire_timers(self, workflow: BpmnWorkflow, at: datetime | None) -> int:
        fired, cycles = timers.mark_due(workflow, at)
        workflow.refresh_timers()
        timers.restore_cycles(cycles)
        self.steps(workflow)
        return fired

    def remove_signer(self, workflow: BpmnWorkflow, task_id: str) -> bool:
        """减签: take one countersign instance that has not been acted on out of the countersign; the rest decide
        by its rule (engine/spiff.py `Countersign.remove`). False if the task is no such instance."""
        task = self.ready_task(workflow, task_id)
        countersign = countersign_of(task) if task is not None else None
        if countersign is None:
            return False
        with action_budget(self.limits):     # its completion condition may run, and the process move on
            countersign.remove(task)
            self.steps(workflow)
        return True

    @staticmethod
    def countersign_signers(workflow: BpmnWorkflow, task_id: str) -> dict | None:
        """For a countersign instance: how many of its instances still count, and how many are still open."""
        task = Engine.ready_task(workflow, task_id)
        countersign = countersign_of(task) if task is not None else None
        return countersign.counters(task.parent) if countersign is not None else None

    # --- reading ---

    @staticmethod
    def ready_task(workflow: BpmnWorkflow, task_id: str):
        try:
            wanted = UUID(str(task_id))
        except ValueError:
            return None
        try:
            task = workflow.get_task_from_id(wanted)
        except TaskNotFoundException:
            return None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            return None
        return task

    @staticmethod
    def ready_tasks(workflow: BpmnWorkflow) -> list[dict]:
        """The user tasks waiting for a person, with their lane, form, data and due time."""
        due_by_parent = timers.boundary_due_times(workflow)
        tasks = []
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            properties = (getattr(spec, "extensions", None) or {}).get("properties") or {}
            tasks.append({
                "id": str(task.id), "element_id": spec.bpmn_id, "name": spec.bpmn_name or spec.bpmn_id,
                "lane": spec.lane, "form_key": properties.get("formKey"),
                "form_version": _int_or_none(properties.get("formVersion")),
                "data": task.data, "due_at": due_by_parent.get(task.id),
                "multi_instance_index": task.internal_data.get("key_or_index") if task.internal_data else None,
                "signer": picked_signer(task),
            })
        return tasks

    next_timer_at = staticmethod(timers.next_timer_at)
    waiting_messages = staticmethod(timers.waiting_messages)

    @staticmethod
    def finished(workflow: BpmnWorkflow) -> bool:
        return workflow.is_completed()


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


DEFAULT_ENGINE = Engine(Sandbox(DEFAULT_LIMITS))
