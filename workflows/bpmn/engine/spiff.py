"""Our SpiffWorkflow classes, and how the parser and the serializer are told about them.

SpiffWorkflow is extended here only by subclassing, through the hooks it offers for it: the parser's
`OVERRIDE_PARSER_CLASSES` (each task parser's `PARALLEL_MI_CLASS`) and the serializer's class → converter
configuration. Each subclass is registered under SpiffWorkflow's own type name, so specs and states stored before
these classes existed restore into them, and what we store restores without them.

- `Countersign`: a parallel multi-instance task (会签) whose fan-out is bounded before any child exists, whose
  completion condition sees every finished instance (not only the last one), with Camunda's counters, and from
  which one unfinished instance can be removed (减签).
- `BoundedWorkflow` / `BoundedSubWorkflow`: workflows whose task table refuses to grow past a cap.
  SpiffWorkflow plans every future task when a workflow is created, once per path through parallel branches:
  thousands of branches (or a few dozen diamonds in a row, which double the plan each time) made millions of tasks
  before any callback of ours ran.

SpiffWorkflow members used here that are not its public API (checked by tests/test_spiff_contract.py, pinned to
the installed version): none. `merge_child` (which ends a multi-instance task once its condition holds) and
`children_complete` are overridden methods of the spec class; `Task.internal_data` and `Workflow.tasks` are
documented attributes.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import SpiffMultiInstanceConverter
from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from workflows.bpmn.limits import SandboxViolation, check_data

# the counters a completion condition may read, as Camunda and Flowable name them
COUNTERS = ("nrOfInstances", "nrOfCompletedInstances", "nrOfActiveInstances")


class StepLimitExceeded(SandboxViolation):
    """One action ran too long or too far without waiting for a person: a loop drawn in BPMN, a call activity
    calling itself, a fan-out. Carries the task it stopped at, so the incident names the element."""

    def __init__(self, message: str, task=None, kind: str = "timeout"):
        super().__init__(message, kind=kind)
        self.task = task


# -- 会签: the parallel multi-instance task ------------------------------------------------------------------------

class Countersign(ParallelMultiInstanceTask):
    """A parallel multi-instance task with a bounded fan-out, a completion condition over every finished
    instance, and 减签 (`remove`)."""

    def create_children(self, my_task):
        # SpiffWorkflow creates every child in one go, each with a deep copy of the task data, before any callback
        # of ours runs: bound the fan-out before it starts.
        limits = _limits(my_task.workflow)
        if limits is not None and self.data_input is not None:
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
        super().create_children(my_task)

    # -- reading its children ---

    def instances(self, my_task) -> list:
        return [c for c in my_task.children if c.task_spec.name == self.task_spec]

    @staticmethod
    def removed(my_task) -> list[str]:
        return my_task.internal_data.get("removed", [])

    def counters(self, my_task) -> dict:
        """nrOfInstances (removed ones do not count), nrOfCompletedInstances, nrOfActiveInstances."""
        children = self.instances(my_task)
        removed = set(self.removed(my_task))
        return {"nrOfInstances": len([c for c in children if str(c.id) not in removed]),
                "nrOfCompletedInstances": len(my_task.internal_data.get("merged", [])),
                "nrOfActiveInstances": len([c for c in children if not c.has_state(TaskState.FINISHED_MASK)])}

    # -- deciding ---

    def check_completion_condition(self, my_task):
        """The condition, evaluated as the last finished instance sees it (its own output item, e.g. a veto) —
        and with the output collection as merged so far and the counters, so N of M can be decided while the
        others still work. (SpiffWorkflow's own sees only the last instance's copy of the data, taken before any
        other had finished.)"""
        merged = my_task.internal_data.get("merged", [])
        if not merged or self.condition is None:
            return False
        last = next((c for c in my_task.children if str(c.id) == merged[-1]), None)
        if last is None:
            return False
        context = self.counters(my_task)
        if self.data_output is not None and self.data_output.exists(my_task):
            context[self.data_output.bpmn_id] = self.data_output.get(my_task)
        return my_task.workflow.script_engine.evaluate(last, self.condition, external_context=context)

    def children_complete(self, my_task):
        # removed instances are finished too (cancelled), or a countersign with one removed would never end
        return all(c.has_state(TaskState.FINISHED_MASK) for c in self.instances(my_task))

    def remove(self, child) -> None:
        """减签: cancel one instance that has not finished. If that decides the countersign (the others are all
        done, or its condition now holds over them), the multi-instance task completes — its remaining instances
        are cancelled — and the process moves on at the next engine step."""
        my_task = child.parent
        my_task.internal_data.setdefault("removed", []).append(str(child.id))
        child.cancel()
        decided = self.check_completion_condition(my_task)
        if decided or self.children_complete(my_task):
            for other in self.instances(my_task):
                other.cancel()              # nothing for a finished one; the rest are not asked any more
            my_task.run()                   # the output is already merged into its data; its successors follow


# Countersigns whose signers a person picks (workflows/cases/tasks/countersign.py; docs/bpmn.md): the countersign's user
# task declares how many may be picked, the task before it names it; each picked signer's task is theirs.
SIGNERS_MIN, SIGNERS_MAX, PICK_SIGNERS = "signersMin", "signersMax", "pickSigners"


def properties(spec) -> dict:
    return (getattr(spec, "extensions", None) or {}).get("properties") or {}


def picked_signer(task) -> str | None:
    """The signer (a user id) a picked countersign's instance belongs to; None for any other task."""
    countersign = countersign_of(task)
    if countersign is None or countersign.input_item is None:
        return None
    if not ({SIGNERS_MIN, SIGNERS_MAX} & properties(task.task_spec).keys()) or not countersign.input_item.exists(task):
        return None
    value = countersign.input_item.get(task)
    return value if isinstance(value, str) else None


def picked_countersign(workflow, element_id: str):
    """(the Countersign spec, its user task's spec) for the element a `pickSigners` property names, or None."""
    specs = workflow.spec.task_specs
    for spec in specs.values():
        if isinstance(spec, Countersign) and spec.bpmn_id == element_id and spec.data_input is not None:
            return spec, specs[spec.task_spec]
    return None


def countersign_of(task):
    """The Countersign spec a task is one instance of, or None."""
    parent = task.parent
    spec = getattr(parent, "task_spec", None)
    return spec if isinstance(spec, Countersign) and task.task_spec.name == spec.task_spec else None


# -- workflows whose task table has a cap --------------------------------------------------------------------------

class TaskTable(dict):
    """`Workflow.tasks` (id → Task), refusing a new task past the workflow's cap."""

    def __init__(self, workflow, tasks=()):
        super().__init__(tasks)
        self.workflow = workflow

    def __setitem__(self, key, task):
        cap = _cap(self.workflow)
        if cap is not None and key not in self and len(self) >= cap:
            widest = max(self.values(), key=lambda t: len(t.children))   # where it fanned out
            raise StepLimitExceeded(f"the process would hold more than {cap} tasks at once (SpiffWorkflow plans "
                                    "every parallel branch ahead): fewer parallel branches, or a multi-instance task",
                                    widest if getattr(widest.task_spec, "bpmn_id", None) else None, "memory")
        super().__setitem__(key, task)


class _TableMixin:
    @property
    def tasks(self):
        return self.__dict__["task_table"]

    @tasks.setter
    def tasks(self, value):
        self.__dict__["task_table"] = TaskTable(self, value)


class BoundedSubWorkflow(_TableMixin, BpmnSubWorkflow):
    pass


class BoundedWorkflow(_TableMixin, BpmnWorkflow):
    """A BpmnWorkflow with `max_tasks`: its task table and its subprocesses' refuse to grow past it. Set it
    before the workflow is built (planning happens in the constructor) and after a restore."""

    def __init__(self, spec, subprocess_specs=None, script_engine=None, max_tasks: int | None = None, **kwargs):
        self.max_tasks = max_tasks
        super().__init__(spec, subprocess_specs, script_engine=script_engine, **kwargs)

    def create_subprocess(self, my_task, spec_name):
        subprocess = BoundedSubWorkflow(self.subprocess_specs[spec_name], parent_task_id=my_task.id,
                                        top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess


def _cap(workflow):
    top = getattr(workflow, "top_workflow", None) or workflow
    return getattr(top, "max_tasks", None)


def _limits(workflow):
    engine = getattr(workflow, "script_engine", None)
    sandbox = getattr(engine, "sandbox", None)
    return getattr(sandbox, "limits", None)


# -- the parser ----------------------------------------------------------------------------------------------------

def _with_countersign(parser_class):
    if not issubclass(parser_class, TaskParser) or parser_class.PARALLEL_MI_CLASS is Countersign:
        return parser_class
    return type(parser_class.__name__, (parser_class,), {"PARALLEL_MI_CLASS": Countersign})


class Parser(SpiffBpmnParser):
    """SpiffBpmnParser whose parallel multi-instance tasks (of any task type) are `Countersign`s."""
    OVERRIDE_PARSER_CLASSES = {tag: (_with_countersign(parser), spec)
                               for tag, (parser, spec) in SpiffBpmnParser.OVERRIDE_PARSER_CLASSES.items()}


# -- the serializer ------------------------------------------------------------------------------------------------

def named(converter, typename: str):
    """`converter` for a subclass, stored under SpiffWorkflow's own type name: states and specs written before
    (and by plain SpiffWorkflow) restore into our class, ours restore in plain SpiffWorkflow."""
    class Named(converter):
        def __init__(self, target_class, registry):
            super().__init__(target_class, registry, typename)
    Named.__name__ = f"{converter.__name__}As{typename}"
    return Named


def configuration(workflow_converter=BpmnWorkflowConverter) -> dict:
    """SPIFF_CONFIG plus our classes. Registered after SpiffWorkflow's own: for a shared type name the last
    registration restores."""
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = workflow_converter
    config[BoundedWorkflow] = named(workflow_converter, "BpmnWorkflow")
    config[BoundedSubWorkflow] = named(BpmnSubWorkflowConverter, "BpmnSubWorkflow")
    config[Countersign] = named(SpiffMultiInstanceConverter, "ParallelMultiInstanceTask")
    return config


def serializer(workflow_converter=BpmnWorkflowConverter, registry=None):
    """A BpmnWorkflowSerializer that knows our classes, and the JSON encoder for what its to_dict leaves as
    objects (task data deltas are not converted)."""
    found = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(configuration(workflow_converter),
                                                                    registry or DefaultRegistry()))
    return found, create_encoder(found.registry)
