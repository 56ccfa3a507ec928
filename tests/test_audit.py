"""The audit log: one record per state change, chained by sha256, tampering named by `audit verify`."""
from __future__ import annotations

import os
import subprocess
import sys


def _actions():
    from core import audit
    from core.audit import AuditRecord
    audit.seal()
    return [r.action for r in AuditRecord.objects.order_by("seq")]


def test_logins_and_user_changes_are_recorded_in_a_chain(client, admin_headers, department, make_staff):
    from core import audit

    client.post("/api/v1/auth/login", json={"username": "root-admin", "password": "wrong"})
    user, _ = make_staff("clerk", [])
    client.post(f"/api/v1/users/{user.id}/roles", json={"role": "approver", "department_id": department["id"]},
                headers=admin_headers)
    client.post(f"/api/v1/users/{user.id}/disable", headers=admin_headers)
    actions = _actions()
    for expected in ("user.create", "auth.login", "department.create", "auth.login_failed", "user.grant_role",
                     "user.disable"):
        assert expected in actions, expected
    result = audit.verify()
    assert result.ok and result.checked == len(actions)


def test_editing_a_record_is_detected_and_named(client, admin_headers, department):
    from core import audit
    from core.audit import AuditRecord

    audit.seal()
    victim = AuditRecord.objects(action="department.create").get()
    AuditRecord.objects(id=victim.id).update_one(set__details__name="forged")
    result = audit.verify()
    assert not result.ok and result.broken_seq == victim.seq and "hash" in result.reason


def test_deleting_a_record_is_detected(client, admin_headers, department):
    from core import audit
    from core.audit import AuditRecord

    audit.seal()
    first = AuditRecord.objects.order_by("seq").first()
    first.delete()
    result = audit.verify()
    assert not result.ok and result.broken_seq == first.seq + 1


def test_concurrent_writers_keep_one_unbroken_chain(app):
    from concurrent.futures import ThreadPoolExecutor
    from core import audit
    from core.actor import Actor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: audit.record(Actor(user_id=f"u{i}"), "test.concurrent", "thing", i), range(40)))
    assert audit.verify().pending == 40           # recorded unchained: one insert each, no contention
    with ThreadPoolExecutor(4) as pool:           # four sealers racing for the same places in the chain
        sealed = sum(pool.map(lambda _: audit.seal(), range(4)))
    result = audit.verify()
    assert sealed == 40 and result.ok and result.checked == 40 and result.pending == 0


def test_audit_api_filters_for_admins(client, admin_headers, department):
    everything = client.get("/api/v1/audit", headers=admin_headers).json
    assert len(everything["items"]) >= 2 and everything["items"][0]["seq"] > everything["items"][-1]["seq"]
    only = client.get(f"/api/v1/audit?object_type=department&object_id={department['id']}",
                      headers=admin_headers).json
    assert [i["action"] for i in only["items"]] == ["department.create"]
    actor_id = only["items"][0]["actor_id"]
    assert all(i["actor_id"] == actor_id for i in
               client.get(f"/api/v1/audit?actor_id={actor_id}", headers=admin_headers).json["items"])
    future = client.get("/api/v1/audit?since=2999-01-01T00:00:00Z", headers=admin_headers).json
    assert future == {"items": [], "next": None}


def test_audit_pages_follow_the_cursor_newest_first_and_each_record_once(client, admin_headers):
    from core import audit
    from core.actor import Actor

    for i in range(7):
        audit.record(Actor(user_id="u"), "test.paged", "thing", i)
    seen, after = [], ""
    while after is not None:
        page = client.get(f"/api/v1/audit?action=test.paged&limit=3{after}", headers=admin_headers).json
        seen += [int(item["object_id"]) for item in page["items"]]
        after = f"&after={page['next']}" if page["next"] else None
    assert seen == [6, 5, 4, 3, 2, 1, 0]


def test_an_action_filter_is_served_by_an_index(app):
    from core.audit import AuditRecord

    plan = AuditRecord.objects(action="auth.login").order_by("-id").limit(21).explain()
    assert "'indexName': 'action_1__id_-1'" in str(plan["queryPlanner"]["winningPlan"])


def test_cli_audit_verify_names_the_broken_link(app, settings, client, admin_headers, department):
    from core import audit
    from core.audit import AuditRecord

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")},
           "ZHANGBAN_MONGODB_URI": settings.mongodb_uri, "ZHANGBAN_DATA_DIR": str(settings.data_dir)}
    ok = subprocess.run([sys.executable, "-m", "api", "audit", "verify"], env=env, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stderr
    audit.seal()
    victim = AuditRecord.objects(action="department.create").get()
    AuditRecord.objects(id=victim.id).update_one(set__actor_id="someone-else")
    broken = subprocess.run([sys.executable, "-m", "api", "audit", "verify"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert broken.returncode == 1 and f"record {victim.seq}" in broken.stderr


def test_details_mongodb_cannot_store_as_given_still_make_a_verifiable_record(app):
    import datetime as dt
    from decimal import Decimal

    from bson import ObjectId

    from core import audit
    from core.actor import Actor
    from core.audit import AuditRecord

    oid = ObjectId()
    audit.record(Actor(user_id="u"), "test.odd_details", "thing", oid,
                 **{"$where": "1", "nested": {"$gt": 1, "a\x00b": 2}, "big": 2 ** 70, "amount": Decimal("1.10"),
                    "at": dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc), "oid": oid})
    stored = AuditRecord.objects(action="test.odd_details").get()
    assert stored.object_id == str(oid) and stored.details["oid"] == str(oid)
    assert stored.details["big"] == str(2 ** 70) and stored.details["amount"] == "1.10"
    assert "$where" not in stored.details and "1" in stored.details.values()
    assert audit.seal() == 1
    result = audit.verify()
    assert result.ok and result.checked == 1


def test_the_sealer_links_each_waiting_record_with_one_write(app, settings):
    from core import audit
    from tests.commands import counting_commands

    with app.app_context():
        for i in range(40):
            audit.record(None, "test.seal", "thing", str(i))
        with counting_commands(settings) as counts:
            assert audit.seal() == 40
        # a batch of waiting records and the tail read once, then one conditional update per record
        assert counts[("update", "audit")] == 40 and counts[("find", "audit")] <= 4, counts
        result = audit.verify()
        assert result.ok and result.checked >= 40 and result.pending == 0
