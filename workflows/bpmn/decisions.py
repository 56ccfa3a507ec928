"""Running one published DMN decision on its own (秒批 and anything else that decides without a process).

A decision lives in a published process version's DMN files. It runs exactly as a business rule task would: the
decision table is wrapped in a one-task BPMN process, compiled with the version's DMN files, and evaluated on the
sandboxed engine (workflows/bpmn/engine.py) under one action's CPU budget — every cell through the sandbox, never
SpiffWorkflow's own script engine.

    result = decisions.evaluate(process_version, "fast_track", data)
    result.outputs      # {"decision": "approve", "reason": "…"} of the first matching rule ({} if none)
    result.rules        # [{"id", "row", "description"}] of the matching rules, in table order

Refusals (a cell that fails, the budget, the size limits) raise `DecisionFailed` with the message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr, escape

from SpiffWorkflow.exceptions import SpiffWorkflowException

from core.cache import MiB, WeightedLRU
from workflows.bpmn.dmn import decisions as dmn_decisions
from workflows.bpmn.engine import DEFAULT_ENGINE, compile_spec, parse_xml
from workflows.bpmn.limits import SandboxViolation, check_data
from workflows.bpmn.models import ProcessVersion
from workflows.bpmn.sandbox import action_budget

PROCESS_ID = "zb_decision"
TASK_ID = "decide"

_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="zb_decision_defs"
    targetNamespace="http://zhangban.example/decision">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="{tid}" name={name}>
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{tid}" />
    <bpmn:sequenceFlow id="f2" sourceRef="{tid}" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

# The one-task spec per (process version, decision): small, so the budget is generous in count.
SPECS = WeightedLRU("decision specs", max_weight=8 * MiB, weigh=len)


class DecisionFailed(Exception):
    """The decision could not be evaluated on this data (a cell failed, a limit, no such decision)."""


@dataclass
class Result:
    outputs: dict = field(default_factory=dict)
    rules: list = field(default_factory=list)


def decision_ids(version: ProcessVersion) -> list[str]:
    """The ids of the decisions in a published version's DMN files."""
    found = []
    for item in version.dmn:
        try:
            found.extend(d.get("id") for d in dmn_decisions(parse_xml(item.xml)) if d.get("id"))
        except Exception:   # noqa: BLE001 — a published file parsed at publish; be safe anyway
            continue
    return found


def _spec_json(version: ProcessVersion, decision_id: str) -> str:
    def build():
        if decision_id not in decision_ids(version):
            raise DecisionFailed(f"no decision '{decision_id}' in {version.key} version {version.version}")
        bpmn = _BPMN.format(pid=PROCESS_ID, tid=TASK_ID, name=quoteattr(decision_id), decision=escape(decision_id))
        return compile_spec([parse_xml(bpmn)], [parse_xml(d.xml) for d in version.dmn], PROCESS_ID).to_json()
    return SPECS.get((str(version.id), decision_id), build)


def evaluate(version: ProcessVersion, decision_id: str, data: dict, engine=DEFAULT_ENGINE) -> Result:
    """The decision's outputs and matching rules for `data` (the typed form data), in the sandbox."""
    workflow = engine.new(_spec_json(version, decision_id), data)
    task = next(t for t in workflow.get_tasks() if getattr(t.task_spec, "bpmn_id", None) == TASK_ID)
    task.data = dict(data)
    dmn = task.task_spec.dmnEngine
    try:
        with action_budget(engine.limits):
            matched = dmn.decide(task)
            outputs = dict(dmn.result(task)) if matched else {}
        check_data(outputs, engine.limits, what="the decision's outputs")
    except (SandboxViolation, SpiffWorkflowException) as e:
        raise DecisionFailed(str(e)[:500]) from None
    except Exception as e:   # noqa: BLE001 — a cell that raises on this data: the caller falls back
        raise DecisionFailed(f"{type(e).__name__}: {e}"[:500]) from None
    return Result(outputs=dict(outputs), rules=[{"id": r.id, "row": r.row_number, "description": r.description or ""}
                                                for r in matched])
