"""Walking cases through the real write path for the statistics and ratings tests (and the benchmark's sample)."""
from __future__ import annotations

import pytest

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)


def flush(case) -> int:
    """What the worker does for the statistics each round (until nothing is due), on the case's app."""
    from workflows.cases.stats import rollups

    with case.client.application.app_context():
        return rollups.flush_all()


def approve(case, submitted):
    """受理审核 then 住建复核: approved."""
    [task] = [t for t in case.todo(case.civil_1) if t["application_id"] == submitted["id"]]
    case.act(case.civil_1, task)
    [task] = [t for t in case.todo(case.housing_1) if t["application_id"] == submitted["id"]]
    case.act(case.housing_1, task)
    return case.application(submitted["id"])


def reject(case, submitted):
    [task] = [t for t in case.todo(case.civil_1) if t["application_id"] == submitted["id"]]
    case.act(case.civil_1, task, decision="reject", comment="材料不全")
    return case.application(submitted["id"])


def return_and_supplement(case, submitted):
    """补正 once: returned for /address, supplemented."""
    [task] = [t for t in case.todo(case.civil_1) if t["application_id"] == submitted["id"]]
    case.act(case.civil_1, task, action="return", reason="地址不全", fields=[{"path": "/address", "reason": "写全"}])
    returned = case.application(submitted["id"])
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/supplement", headers=case.resident,
                         json={"version": returned["version"], "data": good_data(address="人民路 1 号 2 单元")})
    assert r.status_code == 200, r.json
    return r.json


def withdraw(case, submitted):
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/withdraw", headers=case.resident,
                         json={"version": submitted["version"]})
    assert r.status_code == 200, r.json
    return r.json


def rate(case, app_id, score, expect=201, headers=None, **body):
    r = case.client.post(f"/api/v1/applications/{app_id}/rating", json={"score": score, **body},
                         headers=headers or case.resident)
    assert r.status_code == expect, r.json
    return r.json


@pytest.fixture
def civil_lead(case, make_staff, admin_headers):
    """A lead of 民政局, granted over the admin API."""
    user, headers = make_staff("civil-lead")
    r = case.client.post(f"/api/v1/users/{user.id}/roles", json={"role": "lead", "department_id": case.civil["id"]},
                         headers=admin_headers)
    assert r.status_code == 200, r.json
    return headers
