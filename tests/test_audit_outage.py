"""A state change and its audit record cannot part: an outage between the two spools the record on local disk,
the caller gets the answer for the change that happened, and the record joins the chain when MongoDB is back."""
from __future__ import annotations

import pytest
from bson import ObjectId

from core import audit, db
from core.embedded import start_server


@pytest.fixture
def own_database(app, settings, tmp_path):
    """A MongoDB of this test's own that it can stop and start again on the same data."""
    holder = {"server": start_server(tmp_path / "mongo", tmp_path / "mongo.log", durable=True)}
    db.connect(settings, uri=f"{holder['server'].uri}/zb_audit_outage")

    def restart():
        holder["server"] = start_server(tmp_path / "mongo", tmp_path / "mongo.log", durable=True)
        db.connect(settings, uri=f"{holder['server'].uri}/zb_audit_outage")

    holder["restart"] = restart
    yield holder
    holder["server"].stop()
    db.connect(settings)


def test_a_login_whose_audit_append_meets_an_outage_is_answered_and_recorded_later(
        app, client, own_database, monkeypatch):
    from api.identity import admin
    from api.identity.models import LoginSession
    from core.audit import AuditRecord

    with app.app_context():
        user = admin.create_staff(None, username="clerk", password="correct horse battery", grants=[])
    real_record = audit.record

    def database_goes_down_first(*args, **kwargs):
        own_database["server"].stop()      # the state change is written; the append meets the outage
        return real_record(*args, **kwargs)

    monkeypatch.setattr(audit, "record", database_goes_down_first)
    r = client.post("/api/v1/auth/login", json={"username": "clerk", "password": "correct horse battery"})
    monkeypatch.setattr(audit, "record", real_record)
    assert r.status_code == 200 and r.json["refresh_token"]      # not a 500 for a login that happened
    assert len(list((app.extensions["zhangban"].settings.data_dir / "audit-spool").glob("*.json"))) == 1

    own_database["restart"]()
    assert LoginSession.objects(user_id=user.id).count() == 1    # the change survived the outage …
    assert not AuditRecord.objects(action="auth.login").first()   # … its record waits on disk
    assert audit.seal() >= 1 and audit.seal() == 0
    login = AuditRecord.objects(action="auth.login").get()
    assert login.object_id == str(user.id) and login.seq and login.hash
    result = audit.verify()
    assert result.ok and result.pending == 0 and result.checked == AuditRecord.objects.count()


def test_a_spooled_record_drained_twice_is_inserted_once(app, settings):
    from core.audit import AuditRecord

    spool = settings.data_dir / "audit-spool"
    with app.app_context():
        audit.configure(spool)
        entry = AuditRecord(id=ObjectId(), pending=True, at=audit.clock.now(), actor_id="u",
                            action="test.spooled", details={"a": 1})
        audit._write_spool(entry)
        kept = (spool / f"{entry.id}.json").read_bytes()
        assert audit.drain_spool() == 1
        (spool / f"{entry.id}.json").write_bytes(kept)          # a crash left the file after the insert
        assert audit.drain_spool() == 0 and not list(spool.glob("*.json"))
        audit.seal()
        stored = AuditRecord.objects(action="test.spooled").get()
        assert stored.details == {"a": 1} and audit.verify().ok


def test_records_are_inserted_unchained_and_sealed_in_order(app):
    from core.actor import Actor
    from core.audit import AuditRecord

    with app.app_context():
        for i in range(3):
            AuditRecord(pending=True, at=audit.clock.now(), actor_id=f"u{i}", action="test.unsealed").save()
        assert AuditRecord.objects(seq__exists=True).count() == 0 and audit.verify().pending == 3
        audit.record(Actor(user_id="u3"), "test.sealed_after")
        assert audit.verify().pending == 4      # recording is one insert; sealing is the sealer's job
        assert audit.seal() == 4
        chain = list(AuditRecord.objects.order_by("seq"))
        assert [r.actor_id for r in chain] == ["u0", "u1", "u2", "u3"] and [r.seq for r in chain] == [1, 2, 3, 4]
        assert audit.verify().ok and audit.verify().pending == 0
