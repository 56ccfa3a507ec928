"""The escape corpus: uploaded BPMN is code, and none of these attempts may have an effect.

Each attempt sits in a script task (or a condition, timer, multi-instance expression or DMN cell) of an
uploaded process. It is either refused at validation, naming its element id, or it stops the run with an
incident recorded on the instance (naming the element) — and the test checks that nothing happened: the marker
file was not created, the secret environment variable never reached stored data, the process is still there.
"""
from __future__ import annotations

import os
import threading

import pytest

from core.actor import Actor
from workflows.bpmn import instances, service, validation
from workflows.bpmn.models import Instance
from workflows.bpmn.sandbox import Sandbox
from workflows.bpmn.limits import SandboxViolation

CANARY_VAR = "ZB_ESCAPE_CANARY"
CANARY = "canary-7f3a9c-do-not-leak"

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">
  <bpmn:process id="escape" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="attack"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="attack" />
    <bpmn:sequenceFlow id="f2" sourceRef="attack" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""

# (name, script, where it is stopped: "upload" or "run"). {mark} is a file that must never appear.
CORPUS = [
    # dunder and underscore attributes
    ("dunder subclasses", "x = ().__class__.__bases__[0].__subclasses__()", "upload"),
    ("function globals", "x = (lambda: 0).__globals__", "upload"),
    ("helper globals to os", "parse_date.__globals__['clock'].os.system('touch {mark}')", "upload"),
    ("underscore name", "_x = 1", "upload"),
    ("bare underscore", "_ = 1", "upload"),
    # getattr / vars / type / dir
    ("getattr", "x = getattr(items, '__class__')", "upload"),
    ("vars", "x = vars()", "upload"),
    ("type", "x = type(items)", "upload"),
    ("dir", "x = dir()", "upload"),
    ("globals", "x = globals()", "upload"),
    # format strings
    ("str.format attribute", "x = '{{0.__class__}}'.format(items)", "run"),
    ("f-string attribute", "x = f'{{items.__class__}}'", "upload"),
    ("f-string huge width", "x = f'{{amount:999999999}}'", "upload"),
    ("f-string computed width", "w = 999999999\nx = f'{{amount:{{w}}}}'", "upload"),
    ("percent huge width", "x = '%999999999d' % amount", "run"),
    ("format huge width", "x = '{{:>999999999}}'.format(1)", "run"),
    # generators, frames, tracebacks
    ("generator frame", "g = (i for i in items)\nx = g.gi_frame.f_globals", "upload"),
    ("generator code", "g = (i for i in items)\nx = g.gi_code", "upload"),
    ("traceback", "try:\n    1 / 0\nexcept Exception as e:\n    x = e.__traceback__", "upload"),
    ("generator close", "g = (i for i in items)\ng.close()", "run"),
    # module objects reached through plain attributes
    ("helper module attribute", "parse_date.os.system('touch {mark}')", "run"),
    ("decimal module", "x = to_decimal(1).sys", "run"),
    ("date module", "x = today().sys", "run"),
    # import, open, exec/eval/compile
    ("import", "import os\nos.system('touch {mark}')", "upload"),
    ("from import", "from subprocess import run\nrun(['touch', '{mark}'])", "upload"),
    ("__import__", "__import__('os').system('touch {mark}')", "upload"),
    ("open", "open('{mark}', 'w').write('x')", "upload"),
    ("exec", "exec(\"open('{mark}', 'w')\")", "upload"),
    ("eval", "x = eval('1 + 1')", "upload"),
    ("compile", "x = compile('1', 'x', 'eval')", "upload"),
    ("class with metaclass", "class A:\n    pass", "upload"),
    ("environment", "x = os.environ['" + CANARY_VAR + "']", "run"),
    # resource exhaustion
    ("infinite loop", "while True:\n    pass", "run"),
    ("infinite loop one line", "while True: x = 1", "run"),
    ("nested comprehension", "x = [i for i in range(100000) for j in range(100000)]", "run"),
    ("exponential recursion", "def f(n):\n    return f(n + 1) + f(n + 1)\nx = f(0)", "run"),
    ("huge integer", "x = 10 ** 10 ** 10", "run"),
    ("huge shift", "x = 1 << 10 ** 9", "run"),
    ("huge string", "x = 'a' * (10 ** 9)", "run"),
    ("huge list", "x = [0] * (10 ** 9)", "run"),
    ("huge range", "x = list(range(10 ** 9))", "run"),
    ("huge join", "x = ''.join(['b' * 1000000] * 1000)", "run"),
    ("huge round", "x = round(5, -10 ** 9)", "run"),
    ("quadratic sum", "x = sum([[1] * 1000] * 1000, [])", "run"),
    ("str of aliases", "x = str([['a' * 100000] * 1000] * 100)", "run"),
    ("allocation loop", "x = ['a' * 1000000 + str(i) for i in range(100000)]", "run"),
    # task-data poisoning
    ("100 MB string in data", "x = 'a' * 100000000", "run"),
    ("100,000-level nesting", "x = []\nfor i in range(100000):\n    x = [x]", "run"),
    ("cyclic data", "x = []\nx.append(x)", "run"),
    ("function in data", "x = [lambda: 1]", "run"),
    # BaseExceptions that SpiffWorkflow does not catch
    ("SystemExit", "raise SystemExit(1)", "upload"),
    ("KeyboardInterrupt", "raise KeyboardInterrupt", "upload"),
    ("GeneratorExit", "raise GeneratorExit", "upload"),
    ("exit()", "exit(1)", "upload"),
]


@pytest.fixture(autouse=True)
def canary(monkeypatch):
    monkeypatch.setenv(CANARY_VAR, CANARY)


def _xml(script: str, mark: str) -> str:
    from xml.sax.saxutils import escape
    return TEMPLATE.format(script=escape(script.format(mark=mark)))


def test_the_corpus_is_large_and_covers_both_stages():
    assert len(CORPUS) >= 25
    assert {stage for _, _, stage in CORPUS} == {"upload", "run"}


@pytest.mark.parametrize("name, script, stage", CORPUS, ids=[c[0] for c in CORPUS])
def test_an_escape_attempt_has_no_effect(app, tmp_path, name, script, stage):
    mark = tmp_path / "pwned"
    xml = _xml(script, str(mark))
    result = validation.validate(xml, [], validation.Context(key="escape"))
    if stage == "upload":
        assert result.errors, f"{name}: passed validation"
        assert {e.get("element_id") for e in result.errors} == {"attack"}, result.errors
        assert not mark.exists()
        return
    assert result.errors == [], result.errors
    with app.app_context():
        actor = Actor.system()
        service.create_draft(actor, key="escape", name="escape", department="d1", bpmn_xml=xml)
        version = service.publish(actor, "escape", known_lanes=None)
        instance = instances.start(actor, version, {"items": [1, 2, 3], "amount": 5})
        stored = Instance.objects(id=instance.id).first()
        assert stored is not None and stored.status == "incident", (name, stored.status)
        incident = stored.incidents[0]
        assert incident.element_id == "attack" and incident.action == "start"
        assert incident.kind in ("sandbox", "timeout", "memory", "data_limit", "error"), incident.kind
        assert CANARY not in str(stored.to_mongo())
    assert not mark.exists()


@pytest.mark.parametrize("where, xml_fragment, element_id", [
    ("gateway condition", """<bpmn:exclusiveGateway id="gw"><bpmn:incoming>f1</bpmn:incoming>
        <bpmn:outgoing>f2</bpmn:outgoing></bpmn:exclusiveGateway>
        <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />
        <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="end">
          <bpmn:conditionExpression>().__class__.__subclasses__()</bpmn:conditionExpression></bpmn:sequenceFlow>""",
     "f2"),
    ("timer expression", """<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming>
        <bpmn:outgoing>f2</bpmn:outgoing><bpmn:timerEventDefinition id="td">
        <bpmn:timeDuration>__import__('os').system('id')</bpmn:timeDuration></bpmn:timerEventDefinition>
        </bpmn:intermediateCatchEvent><bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
        <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />""", "wait"),
    ("multi-instance expression", """<bpmn:manualTask id="mi"><bpmn:incoming>f1</bpmn:incoming>
        <bpmn:outgoing>f2</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>open('/etc/passwd')</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
        </bpmn:manualTask><bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="mi" />
        <bpmn:sequenceFlow id="f2" sourceRef="mi" targetRef="end" />""", "mi"),
])
def test_escapes_in_conditions_timers_and_multi_instance_are_refused_with_their_element(where, xml_fragment,
                                                                                      element_id):
    xml = f"""<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
      id="d" targetNamespace="http://x"><bpmn:process id="escape" isExecutable="true">
      <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>{xml_fragment}
      </bpmn:process></bpmn:definitions>"""
    result = validation.validate(xml, [], validation.Context(key="escape"))
    assert [e["element_id"] for e in result.errors] == [element_id], (where, result.errors)


def test_an_escape_in_a_dmn_cell_is_refused_with_the_cell_id():
    from tests.workflows_fixtures import example
    dmn = example("fee_decision.dmn").replace("round(area * 1.5)", "__import__('os').getenv('HOME')")
    result = validation.validate(example("dmn_decision.bpmn"), [{"name": "fee", "xml": dmn}],
                                 validation.Context(key="dmn_decision"))
    assert [(e["element_id"], e["path"]) for e in result.errors] == [("r3_fee", "r3_fee")]


def test_external_entities_in_uploaded_xml_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = f"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>
      <bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">
      <bpmn:process id="escape" name="&x;" isExecutable="true"/></bpmn:definitions>"""
    result = validation.validate(xml, [], validation.Context(key="escape"))
    assert [e["code"] for e in result.errors] == ["malformed_xml"]
    assert "TOP-SECRET" not in str(result.errors)


def test_base_exceptions_from_inside_an_evaluation_become_ordinary_errors():
    """SystemExit/KeyboardInterrupt/GeneratorExit raised below a script (a helper, a guard) must not reach the
    web worker: SpiffWorkflow catches only Exception."""
    for kind in (SystemExit, KeyboardInterrupt, GeneratorExit):
        def helper(kind=kind):
            raise kind()
        sandbox = Sandbox(helpers={"helper": helper})
        with pytest.raises(SandboxViolation) as caught:
            sandbox.execute("x = helper()", {})
        assert caught.value.kind == "exit" and kind.__name__ in str(caught.value)


def test_the_cpu_limit_holds_in_a_worker_thread():
    """gunicorn runs requests in threads, where signal-based timers cannot reach."""
    outcome = {}

    def work():
        try:
            Sandbox().execute("while True:\n    pass", {})
        except SandboxViolation as e:
            outcome["kind"] = e.kind

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and outcome == {"kind": "timeout"}


def test_poisoned_start_data_is_refused_before_anything_runs(app):
    from core.errors import Invalid
    with app.app_context():
        actor = Actor.system()
        service.create_draft(actor, key="escape", name="u", department="d1", bpmn_xml=_xml("y = 1", ""))
        version = service.publish(actor, "escape", known_lanes=None)
        deep = []
        for _ in range(100_000):
            deep = [deep]
        for data in ({"x": "a" * 100_000_000}, {"x": deep}):
            with pytest.raises(Invalid) as caught:
                instances.start(actor, version, data)
            assert caught.value.message_key == "workflow.data_too_large"
        assert Instance.objects.count() == 0
