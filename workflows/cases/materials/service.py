"""一人一档: the resident's own file of materials and licences, what later forms are offered, and what an
approver sees of where an application's materials came from.

A material is a record over an attachment the resident owns (storage keeps the bytes and the read rules): an
upload attached to a `material.<kind>` form field is filed under that kind when the submission is accepted
(forms.prefill calls `keep`), or filed by the resident by hand; an issued result is filed as a licence by
results.py. Usable = status valid and not past `valid_until` (China date); only usable ones are offered.
"""
from __future__ import annotations

import hashlib
from datetime import date

from mongoengine.errors import NotUniqueError

from core import audit, clock, db
from core.actor import Actor
from core.errors import Conflict, NotFound
from storage import service as storage
from workflows.cases.applications.models import Application
from workflows.cases.materials.models import PersonalMaterial

MAX_OFFERED = 20


def today() -> date:
    return clock.china_today()


def status_of(material: PersonalMaterial, on: date | None = None) -> str:
    """valid, expired or revoked."""
    if material.status == "revoked":
        return "revoked"
    if material.valid_until and material.valid_until < (on or today()):
        return "expired"
    return "valid"


def _usable(owner_id: str, kinds: list[str]):
    return PersonalMaterial.objects(owner_id=owner_id, kind__in=kinds, status="valid").order_by("-created_at")


# -- the forms room's source for `x-prefill: material.<kind>` ---------------------------------------------------

def offer(actor: Actor, kinds: list[str]) -> dict:
    """{kind: [attachment ids of usable materials, newest first]}."""
    found: dict = {}
    on = today()
    for material in _usable(actor.user_id, kinds).only("kind", "attachment_id", "valid_until", "status"):
        if status_of(material, on) == "valid" and len(found.get(material.kind, ())) < MAX_OFFERED:
            found.setdefault(material.kind, []).append(material.attachment_id)
    return found


def keep(actor: Actor, form_key: str, found: dict) -> int:
    """File the attachments an accepted submission put in `material.<kind>` fields (those already filed stay as
    they are: a licence attached again is still the licence). Returns how many were filed."""
    filed = []
    for kind, ids in found.items():
        for attachment_id in dict.fromkeys(ids):
            try:
                PersonalMaterial(owner_id=actor.user_id, kind=kind, name=kind, source="upload", attachment_id=attachment_id,
                         form_key=form_key).save(force_insert=True)
                filed.append(attachment_id)
            except NotUniqueError:
                continue
    if filed:
        audit.record(actor, "material.file", "form", form_key, attachments=filed)
    return len(filed)


# -- the resident's file ----------------------------------------------------------------------------------------

def file_upload(actor: Actor, *, attachment_id: str, kind: str, name: str = "",
                valid_until: date | None = None) -> PersonalMaterial:
    """File one of one's own uploads under a kind (e.g. a scanned 户口簿 with no form asking for it yet)."""
    storage.assert_owned(actor.user_id, [attachment_id])
    material = PersonalMaterial(owner_id=actor.user_id, kind=kind, name=name or kind, source="upload",
                        attachment_id=str(attachment_id), valid_until=valid_until)
    try:
        material.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("material.already_filed", errors=[
            {"path": "/attachment_id", "code": "already_filed", "message": "material.already_filed"}]) from None
    audit.record(actor, "material.file", "material", material.id, kind=kind, attachment=str(attachment_id))
    return material


def list_mine(actor: Actor, *, kind: str | None = None, usable: bool = False) -> list[PersonalMaterial]:
    query = PersonalMaterial.objects(owner_id=actor.user_id, **({"kind": kind} if kind else {})).order_by("-created_at")
    on = today()
    return [m for m in query if not usable or status_of(m, on) == "valid"]


def _mine(actor: Actor, material_id: str) -> PersonalMaterial:
    return db.found(PersonalMaterial, material_id, owner_id=actor.user_id)


def get(actor: Actor, material_id: str) -> PersonalMaterial:
    return _mine(actor, material_id)


def delete(actor: Actor, store, material_id: str, expected_version: int | None = None) -> None:
    """Take a material out of one's file: it is offered no more. An upload no application uses goes altogether;
    one a submitted application uses (and every issued result) stays with that application."""
    material = _mine(actor, material_id)
    version = material.version if expected_version is None else expected_version
    if not PersonalMaterial.objects(id=material.id, version=version).delete():
        raise Conflict("material.changed")
    audit.record(actor, "material.delete", "material", material.id, kind=material.kind, number=material.number)
    if material.source == "upload":
        try:
            storage.delete(actor, store, material.attachment_id)
        except (Conflict, NotFound):
            pass    # used by a submitted application (or already gone): the application keeps its copy


# -- what an approver sees ----------------------------------------------------------------------------------------

def of_application(actor: Actor, application_id: str) -> list[dict]:
    """The application's attachments, each with where it came from (the material it was filed as, if any).
    For the applicant, admins and those storage lets read the application's files (its handlers)."""
    oid = clock.parse_id(application_id)
    app = Application.objects(id=oid).only("id", "applicant_id", "attachments").first() if oid else None
    if app is None or not (actor.user_id == app.applicant_id or actor.is_admin
                           or storage.may_read_application(actor, str(app.id))):
        raise NotFound()
    ids = list(app.attachments)
    if app.id:
        # results issued for this application are its attachments too
        ids += [m.attachment_id for m in PersonalMaterial.objects(application_id=str(app.id), source="licence")
                if m.attachment_id not in ids]
    materials = {m.attachment_id: m for m in PersonalMaterial.objects(owner_id=app.applicant_id, attachment_id__in=ids)}
    on = today()
    return [{"attachment_id": a, "material": materials.get(a),
             "status": status_of(materials[a], on) if a in materials else None} for a in ids]


# -- licences: revoking and verifying ------------------------------------------------------------------------------

def _licence(number: str) -> PersonalMaterial:
    material = PersonalMaterial.objects(number=number, source="licence").first() if number else None
    if material is None:
        raise NotFound()
    return material


def revoke(actor: Actor, number: str, reason: str) -> PersonalMaterial:
    """The issuing department (its approvers or leads) or an admin revokes a licence: no longer offered, and
    verification says revoked. Anyone else hears what "no such licence" answers (404): numbers are guessable."""
    material = _licence(number)
    if not (actor.is_admin or material.issuer_id in (actor.department_ids("approver") |
                                                      actor.department_ids("lead"))):
        raise NotFound()
    if material.status == "revoked":
        raise Conflict("material.already_revoked")
    if not PersonalMaterial.objects(id=material.id, version=material.version, status="valid").update_one(
            set__status="revoked", set__revoked_at=clock.now(), set__revoked_reason=reason, inc__version=1):
        raise Conflict("material.changed")
    audit.record(actor, "licence.revoke", "material", material.id, number=number, reason=reason)
    return material.reload()


def verify(store, number: str, content_hash: str) -> dict:
    """Anyone holding a result checks it: the number and the printed hash must name one issued licence, and the
    stored file must still be the one issued. An unknown number and a wrong hash look the same."""
    material = PersonalMaterial.objects(number=number, source="licence").first() if number else None
    if material is None or material.content_hash != (content_hash or "").lower():
        return {"valid": False, "number": number, "reason": "no_match"}
    data, recorded = storage.read_bytes(store, material.attachment_id)

    intact = hashlib.sha256(data).hexdigest() == material.file_sha256 == recorded
    status = status_of(material)
    return {"valid": intact and status == "valid", "number": number, "status": status, "file_intact": intact,
            "kind": material.kind, "name": material.name, "issuer_name": material.issuer_name,
            "holder_name": _mask(material.holder_name), "issued_at": material.created_at,
            "valid_until": material.valid_until, "revoked_reason": material.revoked_reason or None,
            "reason": None if intact and status == "valid" else ("file_changed" if not intact else status)}


def _mask(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if name else ""

