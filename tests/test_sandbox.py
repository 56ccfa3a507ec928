"""The sandbox still runs ordinary scripts and expressions, and reports what it refuses with a line number."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from workflows.bpmn.limits import Limits, SandboxViolation
from workflows.bpmn.sandbox import Sandbox, SandboxCompileError, SandboxScriptEngine

SB = Sandbox()


def test_ordinary_scripts_work():
    data = {"items": [3, 1, 2], "name": "张三", "pairs": [["a", 1], ["b", 2]]}
    printed = SB.execute(
        "total = 0\n"
        "for i, v in enumerate(items):\n"
        "    total += v\n"
        "a, b = items[0], items[1:]\n"
        "lookup = {k: v for k, v in pairs}\n"
        "ordered = sorted(items, key=lambda x: -x)\n"
        "label = f'{name}: {total:>5}'\n"
        "text = '%s-%d' % (name, total)\n"
        "def double(x):\n"
        "    return x * 2\n"
        "doubled = [double(x) for x in items if x > 1]\n"
        "print('total', total)\n", data)
    assert data["total"] == 6 and data["a"] == 3 and data["b"] == [1, 2]
    assert data["lookup"] == {"a": 1, "b": 2} and data["ordered"] == [3, 2, 1]
    assert data["label"] == "张三:     6" and data["text"] == "张三-6" and data["doubled"] == [6, 4]
    assert "double" not in data           # functions never land in task data
    assert printed == "total 6\n"


def test_helpers_are_functions_for_dates_money_and_id_numbers():
    data = {"id_no": "11010519491231002X", "start": "2024-05-31"}
    SB.execute("age = age_from_id(id_no, on='2024-12-31')\n"
               "born = birth_date_from_id(id_no)\n"
               "end = add_months(start, 1)\n"
               "due = add_working_days('2024-05-31', 1)\n"
               "workdays = working_days('2024-05-27', '2024-06-02')\n"
               "fee = round_money(Decimal('10.005'))\n"
               "n = to_int('x', 0)\n", data)
    assert data["age"] == 75 and data["born"] == date(1949, 12, 31) and data["end"] == date(2024, 6, 30)
    assert data["due"] == date(2024, 6, 3) and data["workdays"] == 4
    assert data["fee"] == Decimal("10.01") and data["n"] == 0


def test_expressions_see_task_data_and_cannot_change_it():
    data = {"amount": 5, "kind": "a"}
    assert SB.evaluate("amount > 3 and kind == 'a'", data) is True
    assert SB.evaluate("len(str(amount)) + max([1, 2])", data) == 3
    assert data == {"amount": 5, "kind": "a"}


def test_task_data_cannot_override_the_guards():
    data = {"_getattr_": "poison", "_getitem_": None, "items": [1]}
    assert SB.evaluate("items[0]", data) == 1
    SB.execute("y = items[0]", data)
    assert data["_getattr_"] == "poison" and data["y"] == 1


@pytest.mark.parametrize("source, line", [("x = 1\ny = (", 2), ("x = 1\n\nimport os", 3), ("a = 1\nb = a.__dict__", 2)])
def test_compile_errors_carry_the_line(source, line):
    with pytest.raises(SandboxCompileError) as caught:
        SB.compile(source, "exec")
    assert caught.value.lineno == line and isinstance(caught.value, SyntaxError)


def test_spiffworkflow_reports_a_refused_script_with_its_line_instead_of_failing_itself():
    """SpiffWorkflow's error wrapper reads lineno; without it the message was lost in a TypeError."""
    from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    from tests.test_sandbox_escapes import _xml
    from workflows.bpmn.engine import compile_spec, parse_xml

    compiled = compile_spec([parse_xml(_xml("x = 1\nimport os", ""))], [], "escape")   # no lint: straight in
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=SandboxScriptEngine())
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert caught.value.line_number == 2 and "import" in str(caught.value)
    assert caught.value.task_spec.bpmn_id == "attack"


def test_limits_are_configurable():
    small = Sandbox(Limits(cpu_ms=20, max_str=100))
    with pytest.raises(SandboxViolation):
        small.execute("x = 'a' * 101", {})
    assert Sandbox(Limits(max_str=1000)).evaluate("len('a' * 500)", {}) == 500


def test_a_refusal_cannot_be_swallowed():
    """Scripts cannot catch exceptions (no try), and even a refusal raised inside a call the script
    survives is re-raised at the end of the evaluation."""
    with pytest.raises(SandboxCompileError):
        SB.compile("try:\n    x = 'a' * 10 ** 9\nexcept:\n    pass", "exec")

    def attempt(f):          # a helper that swallows errors, as library code might
        try:
            return f()
        except Exception:
            return None
    with pytest.raises(SandboxViolation) as caught:
        Sandbox(helpers={"attempt": attempt}).execute("x = attempt(lambda: 'a' * 10 ** 9)\ny = 1", {})
    assert caught.value.kind == "memory"
