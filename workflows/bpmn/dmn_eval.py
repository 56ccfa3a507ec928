"""Running one DMN decision table on its own (免申即享 policies), in the same sandbox as the BPMN engine.

SpiffWorkflow's DMNEngine evaluates every cell through `task.workflow.script_engine`; here the "task" is a small
stand-in carrying the inputs as its data and the sandboxed script engine — never SpiffWorkflow's default,
unrestricted one. One CPU budget covers the whole decision (workflows/bpmn/sandbox.py `action_budget`). Uploads are
checked as process uploads are (workflows/bpmn/dmn.py names the file and element of each problem).
"""
from __future__ import annotations

from types import SimpleNamespace

from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, VALIDATOR

from workflows.bpmn import dmn as dmn_checks
from workflows.bpmn.sandbox import Sandbox, SandboxScriptEngine, action_budget

ENGINE = SandboxScriptEngine(Sandbox())


class DecisionError(Exception):
    """The decision could not be evaluated for these inputs (a cell failed, or the CPU budget ran out)."""


def problems(dmn_xml: str, path: str = "/dmn_xml") -> list[dict]:
    """Every problem of an uploaded DMN file, each with its path and (where there is one) the DMN element id."""
    from workflows.bpmn import validation

    problem, root = validation.read_dmn(0, {"xml": dmn_xml, "name": "policy.dmn"})
    if problem:
        return [{**problem, "path": path}]
    errors: list = []
    dmn_checks.check_files([root], ["policy.dmn"], [], ENGINE.sandbox, validation._error, errors)
    if not errors:
        try:
            compile_decision(dmn_xml)
        except Exception as exc:   # noqa: BLE001 — the parser's own words, named by the file
            errors.append({"path": path, "code": "invalid_dmn", "message": str(exc)[:300]})
    return [{**e, "path": path} for e in errors]


def decision_ids(dmn_xml: str) -> list[str]:
    from workflows.bpmn import validation

    problem, root = validation.read_dmn(0, {"xml": dmn_xml})
    return [] if problem else [d.get("id") for d in dmn_checks.decisions(root) if d.get("id")]


def compile_decision(dmn_xml: str, decision_id: str | None = None):
    """The decision table ready to run (parse once, run for many residents)."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_dmn_str(dmn_xml.encode("utf-8") if isinstance(dmn_xml, str) else dmn_xml, "policy.dmn")
    ident = decision_id or next(iter(parser.dmn_parsers))
    return parser.get_engine(ident, None)


def decide(engine, inputs: dict) -> dict:
    """The outputs of the first matching rule ({} when none matches), evaluated in the sandbox."""
    task = SimpleNamespace(data=dict(inputs), task_spec=SimpleNamespace(bpmn_id="policy", bpmn_name="policy"),
                           workflow=SimpleNamespace(script_engine=ENGINE))
    try:
        with action_budget(ENGINE.sandbox.limits):
            return dict(engine.result(task))
    except Exception as exc:   # noqa: BLE001 — a sandbox refusal, a failing cell: this resident is not decided
        raise DecisionError(str(exc)[:300]) from None
