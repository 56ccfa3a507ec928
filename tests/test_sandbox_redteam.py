"""Red-team corpus, second round: attacks through SpiffWorkflow features, XML and the C code under the sandbox.

The first corpus (tests/test_sandbox_escapes.py) covers expressions one by one. These tests attack what sits
around them: loops drawn in BPMN, call activities calling themselves, multi-instance fan-out, huge timers,
oversized state, XML tricks, cross-department process ids, and C-level operations (comparisons, hashing,
str()) whose cost a tracing counter cannot interrupt. Each asserts the attack had no effect and was refused at
upload (naming the element) or stopped with a recorded incident, within a bounded time.
"""
from __future__ import annotations

import threading
import time
from xml.sax.saxutils import escape

import pytest

from core.actor import Actor
from workflows.bpmn import instances, service, validation
from workflows.bpmn.limits import SandboxViolation
from workflows.bpmn.models import Instance, ProcessVersion
from workflows.bpmn.sandbox import Sandbox
from tests.test_sandbox_escapes import CANARY, canary  # noqa: F401 — the autouse env canary fixture

SYSTEM = Actor.system()
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">"""


def _bpmn(body: str, pid: str = "redteam", extra: str = "") -> str:
    return f"""{HEAD}<bpmn:process id="{pid}" isExecutable="true">
      <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>{body}
    </bpmn:process>{extra}</bpmn:definitions>"""


def _script(element_id: str, script: str, incoming: str, outgoing: str) -> str:
    return (f'<bpmn:scriptTask id="{element_id}"><bpmn:incoming>{incoming}</bpmn:incoming>'
            f'<bpmn:outgoing>{outgoing}</bpmn:outgoing><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>')


def _bounded(work, seconds: float):
    """Run `work` in a thread; fail (instead of hanging the suite) if it is not done in time."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as e:   # noqa: BLE001 — handed back to the test
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return outcome, time.monotonic() - started


def _publish(key: str, xml: str):
    service.create_draft(SYSTEM, key=key, name=key, department="d1", bpmn_xml=xml)
    return service.publish(SYSTEM, key, known_lanes=None)


def _start_incident(app, xml: str, data=None, key="redteam", seconds=60.0):
    """Publish, start, and return the stored instance, which must carry an incident."""
    # `seconds` only keeps a hang from stalling the suite: what stops the run is the engine's own budget (the
    # incident says so). 10 s failed three tests under a full parallel run on a busy 2-core machine.
    with app.app_context():
        result = validation.validate(xml, [], validation.Context(key=key))
        assert result.errors == [], result.errors
        version = _publish(key, xml)
        outcome, _ = _bounded(lambda: instances.start(SYSTEM, version, data or {}), seconds)
        assert "error" not in outcome, repr(outcome.get("error"))
        stored = Instance.objects(id=outcome["value"].id).first()
        assert stored.status == "incident", stored.status
        assert CANARY not in str(stored.to_mongo())
        return stored


# --- loops and recursion drawn in BPMN: every expression is cheap, the process never stops --------------------

def test_a_loop_drawn_in_bpmn_is_stopped(app):
    xml = _bpmn(_script("spin", "n = n + 1 if n < 5 else 0", "f1", "f2") + """
        <bpmn:exclusiveGateway id="gw"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>back</bpmn:outgoing>
          <bpmn:outgoing>out</bpmn:outgoing></bpmn:exclusiveGateway>
        <bpmn:endEvent id="end"><bpmn:incoming>out</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="spin" />
        <bpmn:sequenceFlow id="f2" sourceRef="spin" targetRef="gw" />
        <bpmn:sequenceFlow id="back" sourceRef="gw" targetRef="spin">
          <bpmn:conditionExpression>n &gt;= 0</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="out" sourceRef="gw" targetRef="end">
          <bpmn:conditionExpression>n &lt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>""")
    stored = _start_incident(app, xml, {"n": 0})
    assert stored.incidents[0].kind == "timeout" and stored.incidents[0].action == "start"
    assert stored.incidents[0].element_id in ("spin", "gw")


def test_a_call_activity_calling_its_own_process_is_stopped(app):
    xml = _bpmn("""<bpmn:callActivity id="again" calledElement="redteam"><bpmn:incoming>f1</bpmn:incoming>
          <bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
        <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="again" />
        <bpmn:sequenceFlow id="f2" sourceRef="again" targetRef="end" />""")
    result = validation.validate(xml, [], validation.Context(key="redteam"))
    if result.errors:   # refused at upload, naming the call activity
        assert {e["element_id"] for e in result.errors} == {"again"}, result.errors
        return
    stored = _start_incident(app, xml)
    assert stored.incidents[0].kind in ("timeout", "memory")
    # stopped by its nesting, not after 2 s of CPU (SpiffWorkflow's cost per level grows with the depth: ~9 s wall)
    assert "call activities nested more than 20 deep" in stored.incidents[0].message
    assert stored.incidents[0].element_id == "again"


def test_a_standard_loop_that_never_ends_is_stopped(app):
    xml = _bpmn("""<bpmn:scriptTask id="spin"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
          <bpmn:standardLoopCharacteristics testBefore="false" loopMaximum="1000000000">
            <bpmn:loopCondition>True</bpmn:loopCondition></bpmn:standardLoopCharacteristics>
          <bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="spin" />
        <bpmn:sequenceFlow id="f2" sourceRef="spin" targetRef="end" />""")
    stored = _start_incident(app, xml, {"n": 0})
    assert stored.incidents[0].kind == "timeout" and stored.incidents[0].element_id == "spin"


def _multi_instance(characteristics: str, sequential: bool = False, script: str = "y = 1") -> str:
    return _bpmn(f"""<bpmn:scriptTask id="fan"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
          <bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">{characteristics}
          </bpmn:multiInstanceLoopCharacteristics><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fan" />
        <bpmn:sequenceFlow id="f2" sourceRef="fan" targetRef="end" />""")


@pytest.mark.parametrize("sequential", [False, True])
def test_a_huge_loop_cardinality_is_stopped_before_any_child_is_made(app, sequential):
    stored = _start_incident(app, _multi_instance("<bpmn:loopCardinality>10 ** 7</bpmn:loopCardinality>",
                                                  sequential))
    assert stored.incidents[0].kind == "memory" and stored.incidents[0].element_id == "fan"


def test_a_parallel_multi_instance_over_a_huge_collection_is_stopped(app):
    xml = _multi_instance('<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
                          '<bpmn:inputDataItem id="item" name="item" />')
    stored = _start_incident(app, xml, {"items": list(range(100_000))})
    assert stored.incidents[0].kind == "memory" and stored.incidents[0].element_id == "fan"


def test_a_fan_out_that_copies_large_data_into_every_instance_is_stopped(app):
    xml = _multi_instance('<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
                          '<bpmn:inputDataItem id="item" name="item" />')
    stored = _start_incident(app, xml, {"items": list(range(400)), "blob": ["x" * 150_000] * 10})
    assert stored.incidents[0].kind == "memory" and stored.incidents[0].element_id == "fan"


def test_state_too_large_for_one_document_is_an_incident_not_a_crash(app):
    # twenty instances, each making ~1.5 MB of its own data: more than a MongoDB document holds
    xml = _multi_instance('<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
                          '<bpmn:inputDataItem id="item" name="item" />',
                          script="blob = [str(item) + 'x' * 150000 for i in range(10)]")
    stored = _start_incident(app, xml, {"items": list(range(20))})
    assert stored.incidents[0].kind == "data_limit", stored.incidents[0].message
    assert len(stored.state_json) <= 10_000_000


# --- C code under the sandbox: one call that walks or prints a value the tracing counter cannot interrupt ------

BIG = "[['a' * 100000] * 1000] * 100"          # 100 x 1000 aliases of one 100 KB string: 10 GB as text
ALIASED = "a = 'a' * 1000000\nb = 'a' * 999999 + 'b'\nl = [a for i in range(100000)]\n"
DOUBLED = "t1 = (1,)\nt2 = (1,)\nfor i in range(60):\n    t1 = (t1, t1)\n    t2 = (t2, t2)\n"
COLLIDING = "P = 2 ** 61 - 1\nl = [i * P for i in range(1, 30001)]\n"
C_LEVEL = [
    ("str() inside a helper", f"x = parse_date({BIG})", ValueError),
    ("str() inside the id helpers", f"x = birth_date_from_id({BIG})", ValueError),
    ("print separator", f"print(1, 2, sep={BIG})", SandboxViolation),
    ("print end", f"print(1, end={BIG})", SandboxViolation),
    ("exception message", f"raise ValueError({BIG})", SandboxViolation),
    ("list.index error repr", f"x = [1].index({BIG})", SandboxViolation),
    ("KeyError repr", f"x = {{}}[tuple({BIG})]", SandboxViolation),
    ("round of a huge Decimal", "x = round(to_decimal('1e999999'))", SandboxViolation),
    ("memcmp over aliases: in", ALIASED + "x = b in l", SandboxViolation),
    ("memcmp over aliases: sorted", "a = 'a' * 1000000\nb = 'a' * 999999 + 'b'\nx = sorted([a, b] * 50000)",
     SandboxViolation),
    ("memcmp over aliases: list.sort", "a = 'a' * 1000000\nb = 'a' * 999999 + 'b'\nl = [a, b] * 50000\nl.sort()",
     SandboxViolation),
    ("memcmp over aliases: max", ALIASED + "x = max(l + [b])", SandboxViolation),
    ("memcmp over aliases: count", ALIASED + "x = l.count(b)", SandboxViolation),
    ("exponential ==", DOUBLED + "x = t1 == t2", SandboxViolation),
    ("exponential <", DOUBLED + "x = [t1] < [t2]", SandboxViolation),
    ("exponential hash: set display", DOUBLED + "x = len({t1})", SandboxViolation),
    ("exponential hash: dict key", DOUBLED + "x = len({t1: 1})", SandboxViolation),
    ("exponential hash: dict.get", DOUBLED + "x = {}.get(t1)", SandboxViolation),
    ("exponential hash: set comprehension", DOUBLED + "x = len({t for t in [t1]})", SandboxViolation),
    ("hash collisions: set()", COLLIDING + "x = len(set(l))", SandboxViolation),
    ("hash collisions: starred set display", COLLIDING + "x = len({*l})", SandboxViolation),
    ("hash collisions: dict()", COLLIDING + "x = len(dict(zip(l, l)))", SandboxViolation),
    ("hash collisions: set.union", COLLIDING + "x = len(set().union(l))", SandboxViolation),
    ("hash collisions: dict.update", COLLIDING + "d = {}\nd.update(zip(l, l))\nx = len(d)", SandboxViolation),
]


@pytest.mark.parametrize("script, error", [c[1:] for c in C_LEVEL], ids=[c[0] for c in C_LEVEL])
def test_c_level_work_is_refused_before_it_starts(script, error):
    outcome, took = _bounded(lambda: Sandbox().execute(script, {}), 5)
    assert isinstance(outcome.get("error"), error), outcome
    assert took < 2, took


def test_ordinary_comparisons_sets_and_dicts_still_work():
    context = {"tags": ["a", "b", "a"], "pairs": [["k", 1], ["j", 2]], "names": [str(i) for i in range(50_000)]}
    Sandbox().execute("""
unique = sorted(set(tags))
d = dict(pairs)
d.update([["m", 3]])
big = {n: len(n) for n in names}
ok = ("b" in unique and d.get("k") == 1 and {1, 2} | {3} == {1, 2, 3} and max(tags) == "b"
      and min(1, 2) == 1 and (1, (2, 3)) < (1, (2, 4)) and "49999" in names and len(big) == 50000
      and valid_id_number(None) is False and set("ab").union(["c"]) == {"a", "b", "c"}
      and parse_date(today()) == today() and parse_date(now()) == now().date())
del big
del names
""", context)
    assert context["ok"] is True and context["unique"] == ["a", "b"] and context["d"] == {"k": 1, "j": 2, "m": 3}


def test_a_c_level_attack_in_a_script_task_is_an_incident(app):
    xml = _bpmn(_script("attack", DOUBLED + "x = t1 == t2", "f1", "f2") + """
        <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="attack" />
        <bpmn:sequenceFlow id="f2" sourceRef="attack" targetRef="end" />""")
    stored = _start_incident(app, xml, seconds=5)
    assert stored.incidents[0].element_id == "attack" and stored.incidents[0].kind in ("memory", "timeout")


# --- XML tricks --------------------------------------------------------------------------------------------------

def _laughs() -> str:
    entities = "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    return (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">{entities}]>' + HEAD.split("?>", 1)[1]
            + '<bpmn:process id="redteam" name="&j;" isExecutable="true"/></bpmn:definitions>')


@pytest.mark.parametrize("name, xml, code", [
    ("billion laughs", _laughs(), "malformed_xml"),
    ("100,000-level nesting", HEAD + "<x>" * 100_000 + "</x>" * 100_000 + "</bpmn:definitions>", "malformed_xml"),
    ("XInclude of /etc/passwd", _bpmn('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                                      'href="/etc/passwd" parse="text"/>'), "xsd"),
])
def test_xml_tricks_are_refused_quickly(name, xml, code):
    outcome, took = _bounded(lambda: validation.validate(xml, [], validation.Context(key="redteam")), 5)
    assert took < 1 and code in {e["code"] for e in outcome["value"].errors}, outcome
    assert "root:" not in str(outcome["value"].errors)


def _named_script(name: str) -> str:
    return _bpmn('<?php system("id"); ?>' + _script("s", "x = 1", "f1", "f2").replace(
        'id="s"', f'id="s" name="{name}"') + """
        <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="s" />
        <bpmn:sequenceFlow id="f2" sourceRef="s" targetRef="end" />""")


def test_processing_instructions_are_inert_and_huge_names_refused(app):
    with app.app_context():
        outcome, took = _bounded(lambda: instances.start(SYSTEM, _publish("redteam", _named_script("审核")), {}), 10)
        assert outcome["value"].status == "completed" and took < 5
    # a 900,000-character name was kept in every path entry and task of the instance; now refused at upload
    outcome, took = _bounded(lambda: validation.validate(_named_script("名" * 900_000), [],
                                                         validation.Context(key="redteam")), 10)
    assert [(e["code"], e.get("element_id")) for e in outcome["value"].errors] == [("name_too_long", "s")]


# --- timers -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("duration", ['"P999999999999D"', '"R999999999/PT0S"', '"P1D" * 300000', "10 ** 100"])
def test_absurd_timers_are_incidents_not_crashes(app, duration):
    from datetime import datetime, timezone
    xml = _bpmn(f"""<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming>
          <bpmn:outgoing>f2</bpmn:outgoing><bpmn:timerEventDefinition>
          <bpmn:timeDuration>{escape(duration)}</bpmn:timeDuration></bpmn:timerEventDefinition>
          </bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
        <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />""")
    with app.app_context():
        version = _publish("redteam", xml)
        outcome, _ = _bounded(lambda: instances.start(SYSTEM, version, {}), 5)
        assert "error" not in outcome, outcome
        instance = outcome["value"]
        if instance.status == "running":
            far = datetime(9999, 12, 31, tzinfo=timezone.utc)
            outcome, _ = _bounded(lambda: instances.fire_timers(SYSTEM, instance, far), 5)
            assert "error" not in outcome or isinstance(outcome["error"], instances.IncidentRecorded), outcome
        stored = Instance.objects(id=instance.id).first()
        assert stored.status in ("running", "completed", "incident")
        if stored.status == "incident":
            assert stored.incidents[0].element_id == "wait"


# --- other departments' processes ---------------------------------------------------------------------------------

def test_a_process_id_already_published_under_another_key_cannot_be_taken_over(app):
    """Call activities bind to the newest published process with the called id: publishing an attacker's process
    under the same BPMN id would make the next publish of every caller bind to it (and hand it their data)."""
    from core.errors import Invalid
    body = _script("s", "x = 1", "f1", "f2") + """<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming>
        </bpmn:endEvent><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="s" />
        <bpmn:sequenceFlow id="f2" sourceRef="s" targetRef="end" />"""
    with app.app_context():
        _publish("housing_check", _bpmn(body, pid="housing_check"))
        service.create_draft(SYSTEM, key="evil", name="evil", department="d2", bpmn_xml=_bpmn(body, pid="housing_check"))
        with pytest.raises(Invalid) as caught:
            service.publish(SYSTEM, "evil", known_lanes=None)
        assert [e["element_id"] for e in caught.value.errors] == ["housing_check"]
        assert ProcessVersion.objects(process_id="housing_check").count() == 1
        assert service._resolve_call("housing_check").key == "housing_check"


# --- DMN namespace tricks -----------------------------------------------------------------------------------------

def _prefixed_dmn(dmn: str) -> str:
    """The same DMN with its elements under a prefix and a decoy default namespace."""
    import re
    namespace = re.search(r'xmlns="([^"]+)"', dmn).group(1)
    dmn = dmn.replace(f'xmlns="{namespace}"', f'xmlns:d="{namespace}" xmlns="urn:decoy"')
    return re.sub(r"<(/?)(?!\?)(?!d:)([A-Za-z]+)", r"<\1d:\2", dmn)


def test_a_dmn_cell_behind_a_decoy_default_namespace_is_still_checked():
    from tests.workflows_fixtures import example
    dmn = _prefixed_dmn(example("fee_decision.dmn").replace("round(area * 1.5)", "__import__('os').getenv('HOME')"))
    result = validation.validate(example("dmn_decision.bpmn"), [{"name": "fee", "xml": dmn}],
                                 validation.Context(key="dmn_decision"))   # was an IndexError (a 500)
    assert [(e["code"], e["element_id"]) for e in result.errors] == [("bad_dmn_cell", "r3_fee")]


def test_a_dmn_the_parser_cannot_read_is_an_error_not_a_crash():
    from tests.workflows_fixtures import example
    dmn = _prefixed_dmn(example("fee_decision.dmn"))
    result = validation.validate(example("dmn_decision.bpmn"), [{"name": "fee", "xml": dmn}],
                                 validation.Context(key="dmn_decision"))
    assert [e["code"] for e in result.errors] == ["invalid_bpmn"]
