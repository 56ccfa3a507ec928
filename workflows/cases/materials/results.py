"""Electronic results: on approval, a PDF (service, applicant, decision, numbers, date, the department's seal and
the approver's signature) stored write-once (object lock on MinIO), given to the resident as an attachment and
filed in their 一人一档 as a licence (电子证照) that later forms can attach.

The approving write sets the application's `documents_due_at`; the worker (`issue_due`, each round) takes each
due application with a lease, makes its result and clears the field. Drawing a PDF and filing it cost more than the
rest of an approval, so the approver's request does not wait for them; the resident sees the document a worker
round later. A try that fails (the object store is down) leaves the application due again once the lease runs
out. `issue` is idempotent (one licence per application: a unique index on the application id).

The printed hash is the sha256 of the canonical JSON of the printed facts with the seal's and signature's sha256:
`GET /api/v1/licences/verify?number=&hash=` checks it against the record, and the stored file's bytes against the
sha256 recorded when it was issued.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from mongoengine.errors import NotUniqueError

from core import audit, clock
from core.errors import DomainError
from storage import service as storage
from workflows.cases.applications.models import Application
from workflows.cases.materials import pdf
from workflows.cases.materials.models import PersonalMaterial, Seal
from workflows.cases.tasks import names

log = logging.getLogger(__name__)

VERIFY_PATH = "/api/v1/licences/verify"
LEASE = timedelta(minutes=1)       # a worker's claim on one due application; after a failed try, the pause

_verified_names = [lambda user_id: None]


def register_verified_names(resolver) -> None:
    """`resolver(user_id) -> the verified real name or None`: people are identity's (the delivery room registers
    it). A result names its verified holder, never what a form field said."""
    _verified_names[0] = resolver


def holder_name(app: Application) -> str:
    """The applicant's verified name; for an applicant never verified, the form's name field (else the masked
    name approvers see)."""
    verified = _verified_names[0](app.applicant_id)
    if verified:
        return verified
    name = app.data.get("name")
    return name if isinstance(name, str) and name else app.applicant_name


def licence_kind(service_code: str) -> str:
    """A result's kind is its service's code as a form names it (`x-prefill: material.residence_permit`)."""
    kind = service_code.replace("-", "_").replace(".", "_")
    return kind if kind[:1].isalpha() else f"s_{kind}"


def licence_number(app: Application) -> str:
    return "DZ" + (app.number or str(app.id))[2:]


def issue(store, application_id: str) -> PersonalMaterial | None:
    """The application's result licence, made now if it is approved and has none yet; either way the
    application is no longer due."""
    app = Application.objects(id=clock.parse_id(application_id)).first()
    return _issue(store, app) if app is not None else None


def _issue(store, app: Application) -> PersonalMaterial | None:
    existing = PersonalMaterial.objects(application_id=str(app.id), source="licence").first()
    if app.status == "approved" and existing:
        # made by a try whose worker died before it attached it: attached now (once: a set), no longer due
        Application.objects(id=app.id).update_one(add_to_set__result__documents=existing.attachment_id,
                                                  unset__documents_due_at=True, inc__version=1)
        return existing
    if app.status != "approved":
        Application.objects(id=app.id, documents_due_at__exists=True).update_one(unset__documents_due_at=True)
        return None
    issued_at = clock.now()
    issuer = names.department_name(app.department)
    signature_id = next((e.signature for e in reversed(app.timeline) if e.action == "approved" and e.signature), "")
    seal = Seal.objects(id=app.department).first()
    seal_bytes, seal_sha = _image(store, seal.attachment_id if seal else "")
    signature_bytes, signature_sha = _image(store, signature_id)
    facts = pdf.Facts(title="准予许可决定书", service=app.service_name, decision="准予办理", applicant=holder_name(app),
                      application_number=app.number or "", number=licence_number(app),
                      date=clock.china(issued_at).date().isoformat(), issuer=issuer, valid_until="长期")
    canonical = json.dumps(facts.canonical(seal_sha, signature_sha), ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    content_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    document = pdf.render(facts, content_hash, seal=seal_bytes, signature=signature_bytes, verify_path=VERIFY_PATH)
    attachment = storage.issue_document(store, app.applicant_id, document, application_id=str(app.id))
    material = PersonalMaterial(owner_id=app.applicant_id, kind=licence_kind(app.service_code), name=app.service_name,
                        source="licence",
                        attachment_id=str(attachment.id), application_id=str(app.id),
                        application_number=app.number or "", number=facts.number, issuer_id=app.department,
                        issuer_name=issuer, holder_name=facts.applicant,
                        valid_from=clock.china(issued_at).date(),
                        content_hash=content_hash, file_sha256=attachment.sha256, created_at=issued_at)
    try:
        material.save(force_insert=True)
    except NotUniqueError:      # another worker issued it a moment ago: theirs stands (ours is a locked orphan)
        Application.objects(id=app.id).update_one(unset__documents_due_at=True)
        return PersonalMaterial.objects(application_id=str(app.id), source="licence").first()
    Application.objects(id=app.id).update_one(add_to_set__result__documents=str(attachment.id),
                                              unset__documents_due_at=True, inc__version=1)
    audit.record(None, "licence.issue", "application", app.id, number=facts.number, hash=content_hash,
                 attachment=str(attachment.id), seal=bool(seal_bytes), signature=bool(signature_bytes))
    return material


def _image(store, attachment_id: str) -> tuple[bytes | None, str]:
    if not attachment_id:
        return None, ""
    try:
        data, sha = storage.read_bytes(store, attachment_id)
        return data, sha
    except DomainError:
        log.warning("result: image %s could not be read; the result is made without it", attachment_id)
        return None, ""


def issue_due(store, *, limit: int = 50, now=None) -> int:
    """Make the results of up to `limit` due applications (the worker, each round), oldest first; returns how
    many were made. Each is claimed first (its due time moved a lease ahead), so two workers never draw the same
    one, and a failed try waits out the lease instead of being retried at once."""
    now = now or clock.now()
    issued = 0
    for _ in range(limit):
        # the claim answers the application as it was: all that making its result reads of it
        due = Application.objects(__raw__={"documents_due_at": clock.due_by(now)})
        claimed = due.order_by("documents_due_at").modify(set__documents_due_at=now + LEASE)
        if claimed is None:
            break
        try:
            if _issue(store, claimed):
                issued += 1
        except Exception:   # noqa: BLE001 — this one waits out its lease; the others go on
            log.exception("result of application %s could not be made; tried again after %s", claimed.id, LEASE)
    return issued


def set_seal(actor, department_id: str, attachment_id: str) -> Seal:
    """An admin sets a department's seal image (an attachment they uploaded: a photo or signature)."""
    from core.errors import Forbidden

    if not actor.is_admin:
        raise Forbidden()
    storage.assert_owned(actor.user_id, [attachment_id])
    Seal.objects(id=department_id).update_one(upsert=True, set__attachment_id=attachment_id,
                                              set__updated_at=clock.now())
    audit.record(actor, "department.seal", "department", department_id, attachment=attachment_id)
    return Seal.objects(id=department_id).first()
