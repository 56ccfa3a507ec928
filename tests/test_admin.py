"""The admin API: departments and users; every endpoint closed to non-admins; 404 for unknown objects."""
from __future__ import annotations

import pytest

from tests.conftest import bearer

ADMIN_ENDPOINTS = [   # reading departments is for all staff (tests/test_first_hour.py)
    ("post", "/api/v1/departments", {"code": "x", "name": "X"}),
    ("patch", "/api/v1/departments/{dep}", {"name": "Y"}),
    ("get", "/api/v1/users", None),
    ("post", "/api/v1/users", {"username": "newbie", "password": "long enough pw"}),
    ("get", "/api/v1/users/{user}", None),
    ("post", "/api/v1/users/{user}/roles", {"role": "admin"}),
    ("delete", "/api/v1/users/{user}/roles/approver?department_id={dep}", None),
    ("post", "/api/v1/users/{user}/disable", None),
    ("post", "/api/v1/users/{user}/enable", None),
    ("get", "/api/v1/audit", None),
]


@pytest.fixture
def role_headers(make_staff, department, resident_headers):
    dep = department["id"]
    return {
        "resident": resident_headers,
        "designer": make_staff("des", [{"role": "designer", "department_id": dep}])[1],
        "approver": make_staff("app", [{"role": "approver", "department_id": dep}])[1],
    }


@pytest.mark.parametrize("role", ["resident", "designer", "approver"])
def test_every_admin_endpoint_is_403_for_non_admins(client, role_headers, department, make_staff, role):
    target, _ = make_staff("target", [{"role": "approver", "department_id": department["id"]}])
    for method, path, body in ADMIN_ENDPOINTS:
        url = path.format(dep=department["id"], user=target.id)
        r = getattr(client, method)(url, json=body, headers=role_headers[role])
        assert r.status_code == 403, (role, method, url, r.json)
        assert r.json["code"] == "forbidden"


def test_anonymous_callers_get_401(client, department):
    assert client.get("/api/v1/users").status_code == 401
    assert client.post("/api/v1/departments", json={"code": "a", "name": "b"}).status_code == 401


def test_department_tree(client, admin_headers):
    city = client.post("/api/v1/departments", json={"code": "city", "name": "市", "level": "city"},
                       headers=admin_headers).json
    district = client.post("/api/v1/departments", json={"code": "east", "name": "东城区", "level": "district",
                                                       "parent_id": city["id"]}, headers=admin_headers).json
    bureau = client.post("/api/v1/departments", json={"code": "east-civil", "name": "民政局",
                                                     "parent_id": district["id"]}, headers=admin_headers).json
    assert bureau["path"] == [city["id"], district["id"]] and bureau["parent_id"] == district["id"]
    children = client.get(f"/api/v1/departments?parent_id={district['id']}", headers=admin_headers).json
    assert [d["code"] for d in children["items"]] == ["east-civil"] and children["total"] == 1
    dup = client.post("/api/v1/departments", json={"code": "city", "name": "again"}, headers=admin_headers)
    assert dup.status_code == 409 and dup.json["errors"][0]["path"] == "/code"
    orphan = client.post("/api/v1/departments", json={"code": "o", "name": "o", "parent_id": "650000000000000000000000"},
                         headers=admin_headers)
    assert orphan.status_code == 422 and orphan.json["errors"][0]["path"] == "/parent_id"
    from api.identity.models import Department
    assert Department.objects(code="o").count() == 0                  # nothing written for either refusal


def test_department_rename_refuses_a_stale_version(client, admin_headers, department):
    url = f"/api/v1/departments/{department['id']}"
    ok = client.patch(url, json={"name": "民政局（新）", "version": department["version"]}, headers=admin_headers)
    assert ok.status_code == 200 and ok.json["version"] == department["version"] + 1
    stale = client.patch(url, json={"name": "again", "version": department["version"]}, headers=admin_headers)
    assert stale.status_code == 409


def test_unknown_and_malformed_ids_are_404(client, admin_headers):
    for url in ("/api/v1/users/650000000000000000000000", "/api/v1/users/not-an-id",
                "/api/v1/departments/650000000000000000000000", "/api/v1/departments/../../etc"):
        r = client.get(url, headers=admin_headers)
        assert r.status_code == 404, url


def test_create_staff_grant_and_revoke_roles(client, admin_headers, department):
    dep = department["id"]
    created = client.post("/api/v1/users", json={"username": "wang.fang", "password": "a long password",
                                                 "grants": [{"role": "designer", "department_id": dep}]},
                          headers=admin_headers)
    assert created.status_code == 201 and created.json["roles"] == ["designer"]
    assert "password" not in created.json and "password_hash" not in created.get_data(as_text=True)
    uid = created.json["id"]
    granted = client.post(f"/api/v1/users/{uid}/roles", json={"role": "approver", "department_id": dep},
                          headers=admin_headers)
    assert granted.status_code == 200 and granted.json["roles"] == ["approver", "designer"]
    twice = client.post(f"/api/v1/users/{uid}/roles", json={"role": "approver", "department_id": dep},
                        headers=admin_headers)
    assert len(twice.json["grants"]) == 2
    revoked = client.delete(f"/api/v1/users/{uid}/roles/designer?department_id={dep}", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.json["roles"] == ["approver"]
    missing = client.delete(f"/api/v1/users/{uid}/roles/designer?department_id={dep}", headers=admin_headers)
    assert missing.status_code == 404


def test_department_roles_need_a_real_department(client, admin_headers):
    no_dep = client.post("/api/v1/users", json={"username": "x.y", "password": "a long password",
                                                "grants": [{"role": "approver"}]}, headers=admin_headers)
    assert no_dep.status_code == 422 and no_dep.json["errors"][0]["path"] == "/department_id"
    ghost = client.post("/api/v1/users", json={"username": "x.z", "password": "a long password",
                                               "grants": [{"role": "approver", "department_id": "650000000000000000000000"}]},
                        headers=admin_headers)
    assert ghost.status_code == 422
    dup = client.post("/api/v1/users", json={"username": "root-admin", "password": "a long password"},
                      headers=admin_headers)
    assert dup.status_code == 409


def test_disabling_a_user_ends_their_logins(client, admin_headers, make_staff):
    user, headers = make_staff("leaver", [])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post(f"/api/v1/users/{user.id}/disable", headers=admin_headers).json["disabled"] is True
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    login = client.post("/api/v1/auth/login", json={"username": "leaver", "password": "correct horse battery"})
    assert login.status_code == 403
    client.post(f"/api/v1/users/{user.id}/enable", headers=admin_headers)
    login = client.post("/api/v1/auth/login", json={"username": "leaver", "password": "correct horse battery"})
    assert login.status_code == 200


def test_users_list_is_paginated_and_filterable(client, admin_headers, make_staff, department):
    for i in range(5):
        make_staff(f"approver{i}", [{"role": "approver", "department_id": department["id"]}])
    seen, after = [], ""
    for _ in range(3):
        page = client.get(f"/api/v1/users?role=approver&limit=2{after}", headers=admin_headers).json
        seen += [u["username"] for u in page["items"]]
        after = f"&after={page['next']}" if page["next"] else None
    assert seen == [f"approver{i}" for i in (4, 3, 2, 1, 0)] and after is None   # newest first, each once
    assert client.get("/api/v1/users?limit=1000", headers=admin_headers).status_code == 422
    assert client.get("/api/v1/departments?page=101", headers=admin_headers).status_code == 422   # capped
    bad = client.get("/api/v1/users?after=page-2", headers=admin_headers)
    assert bad.status_code == 422 and bad.json["errors"][0]["path"] == "/after"
    assert [u["username"] for u in client.get("/api/v1/users?q=approver3", headers=admin_headers).json["items"]] \
        == ["approver3"]


def test_user_lists_are_keyset_pages_served_by_an_index(client, admin_headers, make_staff):
    from api.identity.models import User

    plan = User.objects(username__gte="appr", username__lt="appr\uffff").order_by("-id").limit(21).explain()
    assert "IXSCAN" in str(plan) and "'username'" in str(plan["queryPlanner"]["winningPlan"])   # not COLLSCAN


def test_an_admin_cannot_disable_themselves(client, admin_headers):
    me = client.get("/api/v1/me", headers=admin_headers).json
    r = client.post(f"/api/v1/users/{me['id']}/disable", headers=admin_headers)
    assert r.status_code == 409
    from api.identity.models import User
    assert User.objects(id=me["id"]).get().disabled is False              # still enabled …
    assert client.get("/api/v1/me", headers=admin_headers).status_code == 200   # … and still logged in


def test_filters_naming_a_malformed_id_match_nothing(client, admin_headers, department, make_staff):
    # A malformed id used to become "no parent" / "no department": the roots, and every admin and resident.
    make_staff("approver0", [{"role": "approver", "department_id": department["id"]}])
    roots = client.get("/api/v1/departments?parent_id=not-an-id", headers=admin_headers).json
    assert roots["total"] == 0 and roots["items"] == []
    users = client.get("/api/v1/users?department_id=not-an-id", headers=admin_headers).json
    assert users["next"] is None and users["items"] == []
