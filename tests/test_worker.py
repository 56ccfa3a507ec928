"""`zhangban worker`: real worker processes fire due timers exactly once while workers are SIGKILLed at random
points; SIGTERM lets a worker finish its item and exit 0; one round in-process calls each part."""
from __future__ import annotations

import random
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest

from core import audit
from core.actor import Actor
from workflows.bpmn import due_timers, instances, service
from workflows.bpmn.models import Instance
from tests.worker_processes import start_worker, stop_all, worker_env

SYSTEM = Actor.system()
TIMERS = 200
DEADLINE = 240          # seconds: the test gives up (and fails) rather than running on
MAX_KILLS = 15
STARTUP_SECONDS = 8     # a worker is past its imports and has its signal handlers well within this

HEADER = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
          'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">')


def waiting_process(duration: str) -> str:
    """start → an intermediate timer → a script that marks it → end."""
    return (HEADER + '<bpmn:process id="wait_then_mark" isExecutable="true">'
            '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
            '<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
            f'<bpmn:timerEventDefinition id="wait_def"><bpmn:timeDuration>"{duration}"</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:scriptTask id="mark"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
            '<bpmn:script>fired = True</bpmn:script></bpmn:scriptTask>'
            '<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="mark" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="mark" targetRef="end" />'
            '</bpmn:process></bpmn:definitions>')


def publish_waiting(duration: str):
    service.create_draft(SYSTEM, key="wait_then_mark", name="wait", department="d1",
                         bpmn_xml=waiting_process(duration))
    return service.publish(SYSTEM, "wait_then_mark", known_lanes=None)


def fired_count() -> int:
    return Instance.objects(key="wait_then_mark", status="completed").count()


@pytest.mark.timeout(DEADLINE + 180)
def test_200_timers_fire_exactly_once_while_workers_are_killed(app, settings):
    with app.app_context():
        version = publish_waiting("PT3S")
        started = [instances.start(SYSTEM, version, {}) for _ in range(TIMERS)]
        assert all(i.next_timer_at is not None and i.status == "running" for i in started)

    env = worker_env(settings, WORKER_LEASE_SECONDS=2, WORKER_BATCH=20)
    rng = random.Random(20261127)

    born = {}

    def spawn():
        # each lives a random while: past its ~2 s start-up it is claiming, firing or writing when killed
        worker = start_worker(env)
        born[worker.pid] = time.monotonic()
        return worker, time.monotonic() + rng.uniform(1.5, 6.0)

    workers = [spawn() for _ in range(3)]
    everyone, kills = [w for w, _ in workers], 0
    begin = time.monotonic()
    try:
        with app.app_context():
            while fired_count() < TIMERS and time.monotonic() - begin < DEADLINE:
                time.sleep(0.1)
                for i, (worker, dies_at) in enumerate(workers):
                    if kills < MAX_KILLS and time.monotonic() > dies_at:
                        worker.send_signal(signal.SIGKILL)
                        kills += 1
                        workers[i] = spawn()
                        everyone.append(workers[i][0])
            assert fired_count() == TIMERS, f"only {fired_count()} of {TIMERS} fired in {DEADLINE} s"
        workers = [w for w, _ in workers]
        # the survivors stop on SIGTERM: each finishes its item and exits 0 (once started: a process still
        # importing has no handler yet, and SIGTERM's default would end it with -15)
        time.sleep(max(0.0, max(born[w.pid] for w in workers) + STARTUP_SECONDS - time.monotonic()))
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            _, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            assert "stopped after" in err
    finally:
        stop_all(everyone)

    with app.app_context():
        for instance in Instance.objects(key="wait_then_mark"):
            steps = Counter(p["element_id"] for p in instance.path)
            assert steps["wait"] == 1 and steps["mark"] == 1, (instance.id, steps)
            assert instance.lease_until is None and instance.next_timer_at is None
        fires = Counter(r.object_id for r in audit.AuditRecord.objects(action="process.instance.timers"))
        # a worker killed between the instance's write and its audit record leaves that one record out; never two
        assert max(fires.values()) == 1 and len(fires) >= TIMERS - kills
        assert audit.verify().ok
    print(f"\n{TIMERS} timers fired once each; {kills} workers killed, {len(everyone)} started, "
          f"{TIMERS - len(fires)} audit records lost to a kill, {time.monotonic() - begin:.1f} s")
    assert kills >= 3


def test_a_dead_workers_claim_runs_out_and_another_worker_fires_the_timer(app, settings):
    with app.app_context():
        version = publish_waiting("PT1S")
        instance = instances.start(SYSTEM, version, {})
        time.sleep(1.2)
        # a worker took it and died before firing: its lease (2 s) holds the others off, then runs out
        assert due_timers.claim(instance.id, lease=timedelta(seconds=2)) is not None
        assert due_timers.claim(instance.id) is None
    worker = start_worker(worker_env(settings, WORKER_LEASE_SECONDS=2))
    try:
        with app.app_context():
            deadline = time.monotonic() + 90
            while fired_count() < 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            stored = Instance.objects(id=instance.id).first()
            assert stored.status == "completed" and [p["element_id"] for p in stored.path].count("wait") == 1
    finally:
        stop_all([worker])


def test_a_round_fires_due_timers_runs_the_reminders_scan_and_delivers(app, monkeypatch):
    from workflows.cases.clock import reminders
    from workflows.cases.worker import Worker

    calls = []
    monkeypatch.setattr(reminders, "scan", lambda now=None: calls.append(now) or {"reminded": 0, "escalated": 0})
    with app.app_context():
        version = publish_waiting("PT1H")
        instance = instances.start(SYSTEM, version, {})
        later = instance.next_timer_at + timedelta(minutes=1)
        result = Worker(batch=10).run_round(now=later)
        assert result.timers == 1 and calls == [later]
        stored = Instance.objects(id=instance.id).first()
        assert stored.status == "completed" and [p["element_id"] for p in stored.path].count("wait") == 1
        assert Worker(batch=10).run_round(now=later).timers == 0      # nothing fires twice


def test_a_failing_reminders_scan_does_not_stop_the_round(app, monkeypatch):
    from workflows.cases.clock import reminders
    from workflows.cases.worker import Worker

    def broken(now=None):
        raise RuntimeError("clock broke")
    monkeypatch.setattr(reminders, "scan", broken)
    with app.app_context():
        version = publish_waiting("PT1H")
        instance = instances.start(SYSTEM, version, {})
        result = Worker().run_round(now=instance.next_timer_at + timedelta(minutes=1))
        assert result.timers == 1 and result.reminders == {} and result.notifications is not None


def test_sigterm_mid_round_finishes_the_item_in_hand_and_leaves_no_claim_behind(app, settings):
    from bson import ObjectId

    with app.app_context():
        version = publish_waiting("PT1S")
        first = instances.start(SYSTEM, version, {})
        template = Instance._get_collection().find_one({"_id": first.id})
        Instance._get_collection().insert_many([{**template, "_id": ObjectId()} for _ in range(149)])
        time.sleep(1.2)
    worker = start_worker(worker_env(settings, WORKER_BATCH=150))
    try:
        with app.app_context():
            deadline = time.monotonic() + 120
            while fired_count() < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=60)
            assert worker.returncode == 0 and "stopped after" in err
            fired = fired_count()
            assert 3 <= fired < 150                                 # it stopped before the batch was done
            assert Instance.objects(lease_until__ne=None).count() == 0     # and abandoned nothing it had taken
            for instance in Instance.objects(key="wait_then_mark"):
                assert [p["element_id"] for p in instance.path].count("wait") == (instance.status == "completed")
    finally:
        stop_all([worker])


def test_sigterm_on_an_idle_worker_exits_0_at_once(app, settings):
    worker = start_worker(worker_env(settings, WORKER_IDLE_SECONDS=3600))
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "started" not in line and time.monotonic() < deadline:
            line = worker.stderr.readline()
        assert "started" in line
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)        # not after the hour's idle sleep
        assert worker.returncode == 0 and "stopped after" in err
    finally:
        stop_all([worker])


def test_a_bad_template_setting_stops_the_worker_at_start(app, settings):
    worker = start_worker(worker_env(settings, WECHAT_TEMPLATES={"no_such_kind": "tpl"}))
    try:
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 2 and "ZHANGBAN_WECHAT_TEMPLATES" in err and "no_such_kind" in err
    finally:
        stop_all([worker])


def test_worker_once_runs_one_round_and_workflows_tick_still_works(app):
    from api.cli import cli

    with app.app_context():
        version = publish_waiting("PT1S")
        instances.start(SYSTEM, version, {})
        instances.start(SYSTEM, version, {})
        time.sleep(1.2)
        result = app.test_cli_runner().invoke(cli, ["worker", "--once"])
        assert result.exit_code == 0, result.output
        assert fired_count() == 2
        tick = app.test_cli_runner().invoke(cli, ["workflows", "tick"])
        assert tick.exit_code == 0 and "fired timers on 0 instances" in tick.output
