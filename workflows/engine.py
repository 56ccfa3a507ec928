"""The BPMN engine: parse uploads, serialize specs once, run workflows in the sandbox, keep state-only JSON.

Nothing here touches the database. The service modules load and store; this module turns bytes into specs and
state into workflows and back. Every workflow it hands out runs on the sandboxed script engine: at creation and
after every restore (the script engine is not serialized; a restored workflow would otherwise silently run on
SpiffWorkflow's default, unrestricted engine).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import ParallelMultiInstanceTask
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from core.cache import MiB, WeightedLRU
from workflows.limits import DEFAULT_LIMITS, DataLimitExceeded, SandboxViolation, check_data
from workflows.sandbox import Sandbox, SandboxScriptEngine, action_budget, action_over

# Uploaded XML is untrusted: no DTDs, no entities (XXE: <!ENTITY x SYSTEM "file:///etc/passwd">), no network.
XML_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=False)


def parse_xml(data: bytes | str):
    """An lxml element from untrusted bytes; raises etree.XMLSyntaxError (with .lineno, .position)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = etree.fromstring(data, etree.XMLParser(**XML_PARSER_OPTIONS))
    if root.getroottree().docinfo.doctype:
        raise etree.XMLSyntaxError("DOCTYPE declarations are not allowed", None, 1, 1, "upload")
    return root


# --- serialization: specs once per published version, state per instance ---

class _StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Serialize a workflow without its spec: the spec is stored once with the published version."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _registry():
    registry = DefaultRegistry()
    # Dates and Decimals are data the helpers produce; give them a JSON form.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _StateOnlyWorkflowConverter
    return BpmnWorkflowSerializer.configure(config, registry)


SERIALIZER = BpmnWorkflowSerializer(_registry())
# A serializer for full workflows (tests and the raw benchmark compare against it).
FULL_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


@dataclass(frozen=True)
class CompiledSpec:
    """A parsed process: the main process spec and every subprocess it calls."""
    process_id: str
    spec: object
    subprocess_specs: dict

    def to_json(self) -> str:
        return json.dumps({"spec": SERIALIZER.to_dict(self.spec),
                           "subprocess_specs": {k: SERIALIZER.to_dict(v) for k, v in self.subprocess_specs.items()}},
                          separators=(",", ":"), cls=SERIALIZER._encoder_cls)


def compile_spec(bpmn_files: list, dmn_files: list = (), process_id: str | None = None) -> CompiledSpec:
    """Parse already-validated XML (lxml elements) into specs. Raises SpiffWorkflow's ValidationException."""
    parser = SpiffBpmnParser()   # the XSD check ran in validation, with every error reported
    for index, root in enumerate(bpmn_files):
        parser.add_bpmn_xml(root, filename=f"bpmn-{index}")
    for index, root in enumerate(dmn_files):
        parser.add_dmn_xml(root, filename=f"dmn-{index}")
    spec = parser.get_spec(process_id)
    return CompiledSpec(process_id, spec, parser.get_subprocess_specs(process_id))


# Serialized specs per published version id, bounded by their size (up to ~6 MB each): restores take a fresh
# copy by json.loads of the cached text, the cheapest deep copy (from_dict mutates what it is given).
SPECS = WeightedLRU("process specs", max_weight=64 * MiB, weigh=len)


class StepLimitExceeded(SandboxViolation):
    """One action ran too long or too far without waiting for a person: a loop drawn in BPMN, a call activity
    calling itself, a fan-out. Carries the task it stopped at, so the incident names the element."""

    def __init__(self, message: str, task=None, kind: str = "timeout"):
        super().__init__(message, kind=kind)
        self.task = task


# SpiffWorkflow creates every child of a parallel multi-instance task in one go, each with a deep copy of the
# task data, before any callback of ours runs: bound the fan-out before it starts.
_create_children = ParallelMultiInstanceTask.create_children


def _bounded_create_children(self, my_task):
    engine = my_task.workflow.script_engine
    if isinstance(engine, SandboxScriptEngine) and self.data_input is not None:
        limits = engine.sandbox.limits
        try:
            count = len(self.data_input.get(my_task))
        except Exception:   # noqa: BLE001 — SpiffWorkflow reports a missing or odd input itself
            count = 0
        if count > limits.max_instances:
            raise StepLimitExceeded(f"a multi-instance task over {count} items (at most {limits.max_instances})",
                                    my_task, "memory")
        if count and count * check_data(my_task.data, limits, what="the task data") > limits.max_fanout_bytes:
            raise StepLimitExceeded(f"{count} instances would each copy the task data (more than "
                                    f"{limits.max_fanout_bytes} bytes in all)", my_task, "memory")
    return _create_children(self, my_task)


ParallelMultiInstanceTask.create_children = _bounded_create_children

# SpiffWorkflow plans every future task when a workflow is created, once per path through parallel branches:
# thousands of branches (or a few dozen diamonds in a row, which double the plan each time) made millions of tasks
# before any callback of ours ran. Count them where they are made.
_add_child = Task._add_child
_TASK_CAP = threading.local()     # the cap while a workflow is being built (its script engine is not set yet)


def _bounded_add_child(self, task_spec, state=TaskState.MAYBE):
    cap = getattr(_TASK_CAP, "limit", None)
    if cap is None:
        engine = getattr(self.workflow, "script_engine", None)
        cap = engine.sandbox.limits.max_tasks if isinstance(engine, SandboxScriptEngine) else None
    if cap is not None and len(self.workflow.tasks) >= cap:
        widest = max(self.workflow.tasks.values(), key=lambda t: len(t.children))   # where it fanned out
        raise StepLimitExceeded(f"the process would hold more than {cap} tasks at once (SpiffWorkflow plans every "
                                "parallel branch ahead): fewer parallel branches, or a multi-instance task",
                                widest if getattr(widest.task_spec, "bpmn_id", None) else self, "memory")
    return _add_child(self, task_spec, state)


Task._add_child = _bounded_add_child


class Engine:
    """Start, restore, move and save workflows; always on the sandboxed script engine."""

    def __init__(self, sandbox: Sandbox | None = None):
        self.script_engine = SandboxScriptEngine(sandbox or Sandbox())
        self.limits = self.script_engine.sandbox.limits

    # --- lifecycle ---

    def new(self, spec_json: str, data: dict | None = None) -> BpmnWorkflow:
        specs = json.loads(spec_json)
        spec = SERIALIZER.from_dict(specs["spec"])
        subprocess_specs = {k: SERIALIZER.from_dict(v) for k, v in specs["subprocess_specs"].items()}
        _TASK_CAP.limit = self.limits.max_tasks
        try:
            workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        finally:
            _TASK_CAP.limit = None
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
        return workflow

    def dump(self, workflow: BpmnWorkflow) -> str:
        dct = SERIALIZER.to_dict(workflow)
        dct[SERIALIZER.VERSION_KEY] = SERIALIZER.VERSION
        # Task data deltas are not converted by to_dict: the encoder gives dates and Decimals their JSON form.
        text = json.dumps(dct, separators=(",", ":"), ensure_ascii=False, cls=SERIALIZER._encoder_cls)
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
            check_data(data, self.limits, what="the task data")
            task.set_data(**data)
            check_data(task.data, self.limits, what="the task data")
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
        self.steps(workflow)
        return True

    def amend(self, task, data: dict):
        """Change the data of a waiting task (nothing runs)."""
        check_data(data, self.limits, what="the task data")
        task.set_data(**data)
        check_data(task.data, self.limits, what="the task data")

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
        at = at or datetime.now(timezone.utc)
        fired, cycles = 0, []
        for task in list(workflow.event_manager.tasks.values()):
            due = _pending_due(task)
            if due is None or due > at:
                continue
            value = task._get_internal_data("event_value")
            if isinstance(value, dict):
                # A cycle compares its next time with the real clock and has no fired flag: make this cycle due
                # now, and put the schedule back (next = this one + the period) once it has fired.
                cycles.append((value, value["cycles"], value["next"]))
                value["next"] = datetime(1970, 1, 1, tzinfo=timezone.utc).isoformat()
            else:
                task._set_internal_data(event_fired=True)
            fired += 1
        workflow.refresh_timers()
        for value, count, scheduled in cycles:
            if value.get("cycles") != count:
                value["next"] = (datetime.fromisoformat(scheduled) + timedelta(seconds=value["duration"])).isoformat()
            else:
                value["next"] = scheduled
        self.steps(workflow)
        return fired

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
        due_by_parent = _boundary_due_times(workflow)
        tasks = []
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            properties = (getattr(spec, "extensions", None) or {}).get("properties") or {}
            tasks.append({
                "id": str(task.id), "element_id": spec.bpmn_id, "name": spec.bpmn_name or spec.bpmn_id,
                "lane": spec.lane, "form_key": properties.get("formKey"),
                "form_version": _int_or_none(properties.get("formVersion")),
                "data": task.data, "due_at": due_by_parent.get(task.id),
                "multi_instance_index": task.internal_data.get("item_index") if task.internal_data else None,
            })
        return tasks

    @staticmethod
    def next_timer_at(workflow: BpmnWorkflow) -> datetime | None:
        times = [t for t in map(_pending_due, workflow.event_manager.tasks.values()) if t is not None]
        return min(times) if times else None

    @staticmethod
    def waiting_messages(workflow: BpmnWorkflow) -> list[str]:
        return sorted({d.name for t in workflow.event_manager.tasks.values()
                       for d in _definitions(t.task_spec.event_definition)
                       if isinstance(d, BpmnMessageEventDefinition)})

    @staticmethod
    def finished(workflow: BpmnWorkflow) -> bool:
        return workflow.is_completed()


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _definitions(definition) -> list:
    """An event's definitions: an event-based gateway (or an event with several definitions) waits for each."""
    return definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]


def _timer_definitions(definition) -> list:
    return [d for d in _definitions(definition) if isinstance(d, TimerEventDefinition)]


def _pending_due(task) -> datetime | None:
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


def _boundary_due_times(workflow) -> dict:
    """Task id of a user task → the earliest deadline of the timers on its boundary."""
    due = {}
    for task in workflow.event_manager.tasks.values():
        when = _pending_due(task)
        parent = task.parent
        if when is None or parent is None:
            continue
        # A boundary event hangs off a hidden "BoundaryEventSplit" whose first child is the user task.
        for sibling in parent.children:
            if sibling.task_spec.manual and (sibling.id not in due or when < due[sibling.id]):
                due[sibling.id] = when
    return due


def _all_tasks(workflow: BpmnWorkflow):
    """Every task of the workflow and its subprocesses. Not get_tasks(state=COMPLETED): that walks down only
    through finished tasks, and missed each countersign under its running multi-instance task and each firing of
    a cycle timer under its waiting boundary event."""
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


class PathRecorder:
    """What a step did: the BPMN elements it finished, when, and which data keys changed."""

    MAX_VALUE = 120
    MAX_KEY = 64
    MAX_NAME = 200
    # Up to MAX_PATH entries are kept beside a state of up to 10 MB in one 16 MB document: each entry stays small.
    MAX_CHANGES_CHARS = 1_000

    def __init__(self, workflow: BpmnWorkflow):
        self.started = time.time()
        self.before = {t.id for t in _all_tasks(workflow) if t.state == TaskState.COMPLETED}

    def entries(self, workflow: BpmnWorkflow) -> list[dict]:
        done = [t for t in _all_tasks(workflow) if t.state == TaskState.COMPLETED and t.id not in self.before]
        done.sort(key=lambda t: t.last_state_change or 0)
        out = []
        for task in done:
            spec = task.task_spec
            if not getattr(spec, "bpmn_id", None):
                continue   # Spiff's own bookkeeping tasks (Root, Start, End, splits)
            changes = self._changes(task.parent.data, task.data) if task.parent is not None else {}
            lane = getattr(spec, "lane", None)
            out.append({"element_id": spec.bpmn_id[:self.MAX_NAME],          # ids are checked at validation;
                        "name": (spec.bpmn_name or spec.bpmn_id)[:self.MAX_NAME],   # versions before were not
                        "type": type(spec).__name__, "lane": lane[:self.MAX_NAME] if lane else lane,
                        "at": datetime.fromtimestamp(task.last_state_change or time.time(), timezone.utc),
                        "changes": changes})
        return out

    def _changes(self, before: dict, after: dict) -> dict:
        changes, used, left = {}, 0, 0
        updated = [(key, self._short(after.get(key))) for key in DeepMerge.get_updated_keys(before, after)]
        for key, value in updated + [(key, None) for key in DeepMerge.get_deleted_keys(before, after)]:
            key = self._key(key)[:self.MAX_KEY]
            used += len(key) + (len(value) if isinstance(value, str) else 8)
            if used > self.MAX_CHANGES_CHARS:
                left += 1
                continue
            changes[key] = value
        if left:
            changes["…"] = f"{left} more"
        return changes

    # The path is stored as BSON, which refuses what task data may hold: keys starting with "$" or holding NUL,
    # integers beyond 64 bits, unpaired surrogates. Escaped as the audit log does (they were a 500 on the write).
    @staticmethod
    def _key(key) -> str:
        key = _valid_text(str(key))
        return ("\uff04" + key[1:] if key.startswith("$") else key).replace("\x00", "\ufffd")

    @classmethod
    def _short(cls, value):
        if isinstance(value, (float, bool)) or value is None:
            return value
        if isinstance(value, int):
            return value if -2 ** 63 <= value < 2 ** 63 else str(value)
        if isinstance(value, (Decimal, date)):
            return str(value)
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        return _valid_text(text if len(text) <= cls.MAX_VALUE else text[: cls.MAX_VALUE] + "…")


def _valid_text(text: str) -> str:
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


DEFAULT_ENGINE = Engine(Sandbox(DEFAULT_LIMITS))
