"""What we rely on in SpiffWorkflow, said as tests: an upgrade that breaks one of these fails here, by name,
before it fails a case in production (workflows/bpmn/engine/spiff.py explains each hook).

No database: specs and workflows only."""
from __future__ import annotations

import json
from dataclasses import replace
from importlib.metadata import version

import pytest
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import ParallelMultiInstanceTask as MixinParallel
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from tests.workflows_fixtures import example
from workflows.bpmn.engine import DEFAULT_ENGINE, SERIALIZER, StepLimitExceeded, compile_spec, parse_xml, spiff
from workflows.bpmn.engine.specs import ENCODER
from workflows.bpmn.limits import DEFAULT_LIMITS
from workflows.bpmn.sandbox import Sandbox


def _spec_json(name: str) -> str:
    return compile_spec([parse_xml(example(f"{name}.bpmn"))], process_id=name).to_json()


def _countersign(name="countersign_quorum", **data):
    workflow = DEFAULT_ENGINE.new(_spec_json(name), data)
    DEFAULT_ENGINE.run(workflow)
    return workflow


def _open(workflow):
    return {t.data["signer"]: t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def test_the_installed_spiffworkflow_is_the_one_these_hooks_were_written_for():
    # setup.cfg pins SpiffWorkflow to 3.2.x; moving past it means reading engine/spiff.py against the new source
    assert version("SpiffWorkflow").startswith("3.2.")


def test_the_hooks_we_override_still_exist_where_spiffworkflow_calls_them():
    for name in ("create_children", "check_completion_condition", "children_complete", "merge_child"):
        assert callable(getattr(MixinParallel, name)), name
    assert all(issubclass(spiff.Countersign, cls) for cls in (ParallelMultiInstanceTask, MixinParallel))
    parsers = SpiffBpmnParser.OVERRIDE_PARSER_CLASSES
    assert all(hasattr(parser, "PARALLEL_MI_CLASS") for parser, _ in parsers.values()
               if issubclass(parser, spiff.TaskParser))
    assert spiff.Parser.OVERRIDE_PARSER_CLASSES.keys() == parsers.keys()


def test_parallel_multi_instance_tasks_are_parsed_and_restored_as_ours_under_spiffworkflows_type_name():
    stored = json.loads(_spec_json("countersign_quorum"))
    [multi] = [t for t in stored["spec"]["task_specs"].values() if t["typename"] == "ParallelMultiInstanceTask"]
    assert multi["condition"].startswith("len(")
    workflow = _countersign(signers=["a", "b"], required=2)
    assert isinstance(workflow.spec.task_specs[multi["name"]], spiff.Countersign)
    state = json.loads(DEFAULT_ENGINE.dump(workflow))
    assert state["typename"] == "BpmnWorkflow"            # what plain SpiffWorkflow restores too
    restored = DEFAULT_ENGINE.restore(_spec_json("countersign_quorum"), json.dumps(state))
    assert isinstance(restored, spiff.BoundedWorkflow) and isinstance(restored.tasks, spiff.TaskTable)
    assert restored.max_tasks == DEFAULT_LIMITS.max_tasks
    # and plain SpiffWorkflow (no classes of ours) reads what we write
    plain = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(dict(SPIFF_CONFIG)))
    full = json.loads(json.dumps(spiff.serializer()[0].to_dict(workflow), cls=ENCODER))
    assert type(plain.from_dict(full)) is BpmnWorkflow


def test_a_state_written_by_plain_spiffworkflow_restores_into_our_classes():
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(parse_xml(example("countersign_quorum.bpmn")), filename="x")
    plain_workflow = BpmnWorkflow(parser.get_spec("countersign_quorum"))
    plain_workflow.task_tree.children[0].data.update(signers=["a"], required=1)
    plain = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(dict(SPIFF_CONFIG)))
    restored = SERIALIZER.from_dict(json.loads(plain.serialize_json(plain_workflow)))
    assert isinstance(restored, spiff.BoundedWorkflow)
    assert any(isinstance(s, spiff.Countersign) for s in restored.spec.task_specs.values())


def test_the_task_table_cap_holds_while_spiffworkflow_plans_the_workflow():
    # Workflow.__init__ assigns `tasks` before it plans the tree: the cap is in force while it plans
    engine = type(DEFAULT_ENGINE)(Sandbox(replace(DEFAULT_LIMITS, max_tasks=5)))
    with pytest.raises(StepLimitExceeded, match="more than 5 tasks"):
        engine.new(_spec_json("parallel_lanes"))


def test_the_completion_condition_sees_every_finished_instance_and_the_counters():
    workflow = _countersign(signers=["a", "b", "c"], required=2)
    multi = _open(workflow)["a"].parent
    assert multi.task_spec.counters(multi) == {"nrOfInstances": 3, "nrOfCompletedInstances": 0,
                                               "nrOfActiveInstances": 3}
    DEFAULT_ENGINE.complete(workflow, str(_open(workflow)["b"].id), {"opinion": "approve"})
    assert set(_open(workflow)) == {"a", "c"}
    DEFAULT_ENGINE.complete(workflow, str(_open(workflow)["c"].id), {"opinion": "approve"})
    assert _open(workflow) == {} and workflow.is_completed()
    assert [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.task_spec.bpmn_id in ("approved", "rejected")] == ["approved"]
    assert _open(workflow) == {} and multi.state == TaskState.COMPLETED
    assert [c.state for c in multi.children if c.task_spec.name == multi.task_spec.task_spec].count(
        TaskState.CANCELLED) == 1                                       # a's task, no longer asked


def test_removing_a_signer_lets_the_rest_decide():
    workflow = _countersign(signers=["a", "b", "c"], required=2)
    DEFAULT_ENGINE.complete(workflow, str(_open(workflow)["a"].id), {"opinion": "approve"})
    assert DEFAULT_ENGINE.remove_signer(workflow, str(_open(workflow)["b"].id))
    multi = _open(workflow)["c"].parent
    assert multi.task_spec.counters(multi) == {"nrOfInstances": 2, "nrOfCompletedInstances": 1,
                                               "nrOfActiveInstances": 1}
    assert not DEFAULT_ENGINE.remove_signer(workflow, "not-a-task")
    DEFAULT_ENGINE.complete(workflow, str(_open(workflow)["c"].id), {"opinion": "approve"})
    assert workflow.is_completed()


def test_removing_the_last_open_signer_completes_the_countersign_over_those_who_signed():
    workflow = _countersign(name="countersign_all", signers=["a", "b"])
    DEFAULT_ENGINE.complete(workflow, str(_open(workflow)["a"].id), {"opinion": "approve"})
    assert DEFAULT_ENGINE.remove_signer(workflow, str(_open(workflow)["b"].id))
    assert workflow.is_completed() and _open(workflow) == {}
    restored = DEFAULT_ENGINE.restore(_spec_json("countersign_all"), DEFAULT_ENGINE.dump(workflow))
    assert restored.is_completed()


def test_what_returning_and_correcting_rely_on_around_a_boundary_timer():
    """Engine.return_to prunes the event manager's list of the timers a reset dropped (`event_manager.tasks`,
    `remove_task`); Engine.amend puts a correction where a waiting boundary event takes its data from (the task's
    parent, a BoundaryEventSplit) and on the event itself."""
    workflow = DEFAULT_ENGINE.new(_spec_json("boundary_timers"), {})
    DEFAULT_ENGINE.run(workflow)
    [review] = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert type(review.parent.task_spec).__name__ == "BoundaryEventSplit"
    waiting = [t for t in review.parent.children if t is not review and not t.has_state(TaskState.FINISHED_MASK)]
    assert {t.task_spec.bpmn_id for t in waiting} == {"remind", "timeout"}
    assert {t.id for t in waiting} <= set(workflow.event_manager.tasks)
    workflow.event_manager.remove_task(waiting[0])
    assert waiting[0].id not in workflow.event_manager.tasks
