"""Issue 12 benchmarks (make bench): a 秒批 decision in the sandbox, a 秒批 submission beside a human-path one,
and one POST of a three-part bundle — times and database commands per request, written as JSON. They report and
never fail on a busy machine."""
from __future__ import annotations

import pytest

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)
from tests.bundles_fixtures import good, newborn  # noqa: F401 (fixture)
from tests.perf.measure import counted_connection
from tests.perf.report import percentiles, timed, write_result
from tests.test_auto_approval import publish_rules, set_rule

ROUNDS = 30


def _per_request(counter, fn, repeat):
    counter.reset()
    samples = timed(fn, repeat, warmup=0)
    return {**percentiles(samples), "commands_per_request": round(counter.total / repeat, 1),
            "by_command": dict(sorted(((k, round(v / repeat, 1)) for k, v in counter.counts.items()),
                                      key=lambda kv: -kv[1])[:8])}


@pytest.mark.timeout(0)
def test_auto_approval(case, app, settings):
    from workflows.bpmn import decisions
    from workflows.bpmn.models import ProcessVersion

    publish_rules(case)
    set_rule(case, {"process_key": "residence_rules", "process_version": 1, "decision_id": "residence_fast"})
    with app.app_context():
        version = ProcessVersion.objects.get(key="residence_rules", version=1)
        evaluate = percentiles(timed(lambda: decisions.evaluate(version, "residence_fast", {"months": 30}), 200))

    def submit(months):
        r = case.client.post("/api/v1/applications", json={"service_code": "residence", "submit": True,
                                                           "data": good_data(months=months)}, headers=case.resident)
        assert r.status_code == 201, r.json
        return r.json["status"]

    with counted_connection(settings) as counter:
        fast = _per_request(counter, lambda: submit(30), ROUNDS)
        human = _per_request(counter, lambda: submit(12), ROUNDS)
    write_result("auto_approval", {"decision_evaluate": evaluate, "submit_decided_at_once": fast,
                                   "submit_to_people": human})


@pytest.mark.timeout(0)
def test_bundle_submit(newborn, settings):
    newborn.publish_bundle()

    def submit():
        r = newborn.client.post("/api/v1/bundle-cases", json=good(), headers=newborn.resident)
        assert r.status_code == 201, r.json

    with counted_connection(settings) as counter:
        result = _per_request(counter, submit, ROUNDS)
    write_result("bundle_submit", {"parts": 3, "started_at_once": 2, "submit": result})
