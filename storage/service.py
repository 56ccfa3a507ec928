"""Attachments: upload, read, link, delete, garbage-collect; and the hooks the applications service uses.

Write order (no transactions needed): objects first, then the record. A crash in between leaves only objects
no record names — `gc()` removes those after a grace period. Deleting goes the other way round: record first
(conditionally), then objects. A store outage during upload is a 503 with no record written.

For the applications service (workflows): on submit, call `assert_owned(applicant_id, ids)` and then
`grant_read(ids, application_id)`; register once, at import, `register_reader(check)` where
`check(actor, application_ids) -> bool` says whether the actor handles one of those applications. Call
`release(application_id)` if a submit fails after grant_read, so the attachments become deletable again.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Iterable

from bson import ObjectId
from mongoengine.errors import NotUniqueError

from core import audit, clock, db, metrics
from core.actor import Actor
from core.errors import DomainError, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType
from core.settings import Settings
from storage import sniff as sniffing
from storage.images import Rendition, process_photo, unreadable
from storage.models import KINDS, Attachment, Variant
from storage.signatures import process_signature
from storage.stores import ObjectStore

ReaderCheck = Callable[[Actor, list], bool]
_readers: list[ReaderCheck] = []


_limited_readers: list[ReaderCheck] = []


def register_reader(check: ReaderCheck, *, limited: bool = False) -> None:
    """Let another room grant reads: `check(actor, application_ids)` is True when the actor may read. A `limited`
    reader (a copy, 抄送) reads thumbnails; any other rendition needs a stated reason, audited with the read."""
    chosen = _limited_readers if limited else _readers
    if check not in chosen:
        chosen.append(check)


# ---- upload -------------------------------------------------------------------------------------------------

def _counted(func):
    """Uploads by kind and outcome (stored, existing, or the refusal's code) in the metrics."""
    @functools.wraps(func)
    def wrapper(actor, store, settings, *, kind, **kwargs):
        label = kind if kind in KINDS else "other"
        try:
            attachment, created = func(actor, store, settings, kind=kind, **kwargs)
        except DomainError as exc:
            metrics.UPLOADS.labels(label, exc.code).inc()
            raise
        metrics.UPLOADS.labels(label, "stored" if created else "existing").inc()
        if created:
            metrics.UPLOAD_BYTES.labels(label).inc(attachment.size or 0)
        return attachment, created
    return wrapper


@_counted
def upload(actor: Actor, store: ObjectStore, settings: Settings, *, kind: str, stream,
           idempotency_key: str | None = None) -> tuple[Attachment, bool]:
    """Store a photo, signature or document; returns (attachment, created). Existing ones come back as they are:
    the same Idempotency-Key, or the same bytes of the same kind from the same owner."""
    if kind not in KINDS:
        raise Invalid("attachment.bad_kind",
                      errors=[{"path": "/kind", "code": "invalid", "message": "attachment.bad_kind"}])
    data = _read_capped(stream, settings.upload_max_bytes)
    sha256 = hashlib.sha256(data).hexdigest()

    existing = _existing(actor.user_id, kind, sha256, idempotency_key)
    if existing:
        return existing, False

    renditions = _process(kind, data, settings)
    attachment = Attachment(id=ObjectId(), owner_id=actor.user_id, kind=kind, sha256=sha256,
                            idempotency_key=idempotency_key, created_at=clock.now())
    stored = []
    try:
        for rendition in renditions:
            key = f"{kind}/{attachment.id}/{rendition.name}.{rendition.extension}"
            version = store.put(key, rendition.data, rendition.content_type)
            stored.append(Variant(name=rendition.name, key=key, version=version,
                                  content_type=rendition.content_type, size=len(rendition.data),
                                  width=rendition.width, height=rendition.height, sha256=rendition.sha256))
    except Unavailable:
        _remove_quietly(store, stored)
        raise
    full = stored[0]
    attachment.variants = stored
    attachment.content_type, attachment.size = full.content_type, full.size
    attachment.width, attachment.height = full.width, full.height
    try:
        attachment.save(force_insert=True)
    except NotUniqueError:
        # A concurrent upload of the same bytes (or with the same key) won: hand back its attachment.
        _remove_quietly(store, stored)
        winner = _existing(actor.user_id, kind, sha256, idempotency_key)
        if winner is None:
            raise Conflict("attachment.changed") from None
        return winner, False
    audit.record(actor, "attachment.upload", "attachment", attachment.id, kind=kind, size=len(data),
                 sha256=sha256, variants=[v.name for v in stored])
    return attachment, True


def _read_capped(stream, limit: int) -> bytes:
    data = stream if isinstance(stream, (bytes, bytearray)) else stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge("attachment.too_large", errors=[
            {"path": "/file", "code": "too_large", "message": "attachment.too_large", "limit": limit}])
    if not data:
        raise Invalid("attachment.empty", errors=[{"path": "/file", "code": "empty", "message": "attachment.empty"}])
    return bytes(data)


def _existing(owner_id: str, kind: str, sha256: str, idempotency_key: str | None) -> Attachment | None:
    if idempotency_key:
        found = Attachment.objects(owner_id=owner_id, idempotency_key=idempotency_key).first()
        if found:
            if found.kind != kind or found.sha256 != sha256:
                raise Conflict("attachment.idempotency_key_reused", errors=[
                    {"path": "Idempotency-Key", "code": "reused", "message": "attachment.idempotency_key_reused"}])
            return found
    return Attachment.objects(owner_id=owner_id, kind=kind, sha256=sha256).first()


def _process(kind: str, data: bytes, settings: Settings) -> list[Rendition]:
    started = time.perf_counter()
    try:
        return _renditions(kind, data, settings)
    finally:
        metrics.IMAGE_SECONDS.labels(kind).observe(time.perf_counter() - started)


def _renditions(kind: str, data: bytes, settings: Settings) -> list[Rendition]:
    limits = {"max_decode_bytes": settings.image_decode_mb * 1024 * 1024, "decode_slots": settings.image_decodes}
    if kind == "photo":
        return process_photo(data, max_pixels=settings.image_max_pixels, keep_original=settings.keep_originals,
                             **limits)
    if kind == "signature":
        return process_signature(data, **limits)
    return [_document(data)]


def _document(data: bytes) -> Rendition:
    """PDFs are stored as they are, once their type is sniffed and their end is found (not truncated)."""
    if sniffing.sniff(data) != sniffing.PDF:
        raise UnsupportedMediaType("attachment.unsupported_type", errors=[
            {"path": "/file", "code": "unsupported_type", "message": "attachment.unsupported_type",
             "accepted": [sniffing.PDF]}])
    if b"%%EOF" not in data[-4096:]:
        raise unreadable()
    return Rendition("full", data, sniffing.PDF, "pdf")


def _remove_quietly(store: ObjectStore, variants: Iterable[Variant]) -> None:
    for variant in variants:
        try:
            store.delete(variant.key, variant.version)
        except Unavailable:
            pass   # left as an orphan; `zhangban storage gc` removes it later


def issue_document(store: ObjectStore, owner_id: str, data: bytes, *, application_id: str) -> Attachment:
    """A PDF the system made for `owner_id` (an application's result): stored write-once under `result/` (object
    lock on MinIO), recorded as the owner's attachment and referenced by the application (so its handlers read it
    and it cannot be deleted while the application names it). Object first, then the record."""
    attachment = Attachment(id=ObjectId(), owner_id=owner_id, kind="document", created_at=clock.now(),
                            sha256=hashlib.sha256(data).hexdigest(), content_type=sniffing.PDF, size=len(data),
                            referenced_by=[str(application_id)])
    key = f"result/{attachment.id}/full.pdf"
    version = store.put(key, data, sniffing.PDF)
    attachment.variants = [Variant(name="full", key=key, version=version, content_type=sniffing.PDF,
                                   size=len(data), sha256=attachment.sha256)]
    attachment.save(force_insert=True)
    audit.record(None, "attachment.issue", "attachment", attachment.id, owner=owner_id,
                 application=str(application_id), sha256=attachment.sha256)
    return attachment


def read_bytes(store: ObjectStore, attachment_id: str, variant: str = "full") -> tuple[bytes, str]:
    """The stored bytes of one rendition and their recorded sha256 (for rooms that print or check a file; no
    access check: the caller has made its own)."""
    chosen = _find(attachment_id).variant(variant)
    if chosen is None:
        raise NotFound()
    return store.get(chosen.key, chosen.version), chosen.sha256


def may_read_application(actor: Actor, application_id: str) -> bool:
    """Whether the registered reader checks let the actor read files of this application."""
    return any(check(actor, [str(application_id)]) for check in _readers)


# ---- reading ------------------------------------------------------------------------------------------------

def get(actor: Actor, attachment_id: str) -> Attachment:
    """The attachment's record, for its owner, admins and handlers of an application that references it."""
    attachment = _find(attachment_id)
    if not _may_read(actor, attachment) and not _reads_limited(actor, attachment):
        raise NotFound()
    return attachment


def content_url(actor: Actor, store: ObjectStore, settings: Settings, attachment_id: str,
                variant: str = "full", reason: str = "") -> str:
    """A short-lived URL for one rendition (presigned on MinIO, app-signed on the filesystem store). A limited
    reader (抄送) gets a thumbnail, or another rendition with a `reason` (403 `attachment.reason_required`)."""
    attachment = _find(attachment_id)
    if not _may_read(actor, attachment):
        if not _reads_limited(actor, attachment):
            raise NotFound()
        if variant != "thumbnail" and not reason.strip():
            raise Forbidden("attachment.reason_required")
    # A kept original still carries its metadata (GPS): only its owner may fetch it; handlers see the clean copy.
    chosen = attachment.variant(variant) if variant != "original" or actor.user_id == attachment.owner_id else None
    if chosen is None:
        raise Invalid("attachment.no_such_variant", errors=[
            {"path": "/variant", "location": "query", "code": "invalid", "message": "attachment.no_such_variant"}])
    url = store.link(chosen.key, min(settings.presign_seconds, 300), chosen.version)
    if actor.user_id != attachment.owner_id:
        # Someone else looked at a resident's file (an ID card, say): keep a trace, with why when they said.
        audit.record(actor, "attachment.read", "attachment", attachment.id, variant=variant,
                     **({"reason": reason.strip()} if reason.strip() else {}))
    return url


def open_link(store: ObjectStore, token: str) -> tuple[bytes, str]:
    """The bytes behind an app-signed filesystem link; Forbidden when tampered with or expired."""
    return store.open_link(token)


def _find(attachment_id: str) -> Attachment:
    return db.found(Attachment, attachment_id)


def _reads_limited(actor: Actor, attachment: Attachment) -> bool:
    return bool(attachment.referenced_by) and any(
        check(actor, list(attachment.referenced_by)) for check in _limited_readers)


def _may_read(actor: Actor, attachment: Attachment) -> bool:
    if actor.user_id == attachment.owner_id or actor.is_admin:
        return True
    if attachment.referenced_by:
        return any(check(actor, list(attachment.referenced_by)) for check in _readers)
    return False


# ---- deleting -----------------------------------------------------------------------------------------------

def delete(actor: Actor, store: ObjectStore, attachment_id: str) -> None:
    """The owner deletes an attachment that no submitted application references."""
    attachment = _find(attachment_id)
    if attachment.owner_id != actor.user_id:
        raise NotFound()   # admins may look, but only the owner deletes
    if attachment.referenced_by:
        raise Conflict("attachment.in_use")
    removed = Attachment.objects(id=attachment.id, version=attachment.version, referenced_by__size=0).delete()
    if not removed:
        raise Conflict("attachment.changed")   # referenced or changed meanwhile; the client reloads
    _remove_quietly(store, attachment.variants)
    audit.record(actor, "attachment.delete", "attachment", attachment.id, kind=attachment.kind)


# ---- hooks for the applications service ---------------------------------------------------------------------

def assert_owned(owner_id: str, attachment_ids: list[str], *, also: str | None = None) -> None:
    """Raise Invalid naming each id that is not an attachment of `owner_id` (unknown ids look the same).
    `also`: a second owner whose files count too (a 帮办 helper's uploads for the resident they act for)."""
    if not attachment_ids:
        return      # most applications and approvals carry none: no round trip for nothing
    oids = {str(i): clock.parse_id(i) for i in attachment_ids}
    owners = [owner_id] + ([also] if also else [])
    found = {str(a.id) for a in Attachment.objects(id__in=[o for o in oids.values() if o],
                                                    owner_id__in=owners).only("id")}
    bad = [(index, i) for index, i in enumerate(attachment_ids) if str(i) not in found]
    if bad:
        raise Invalid("attachment.not_yours", params={"id": bad[0][1]}, errors=[
            {"path": f"/{index}", "code": "attachment_not_found", "message": "attachment.not_yours", "id": str(i)}
            for index, i in bad])


def grant_read(attachment_ids: list[str], application_id: str) -> None:
    """Mark the attachments as referenced by a submitted application: its handlers may read them
    (through the registered reader checks) and the owner can no longer delete them. All or none: the ids are
    checked first (one query), then granted in one update_many; one deleted in between undoes the others."""
    if not attachment_ids:
        return      # nothing to grant, nothing to record
    oids = {str(i): clock.parse_id(i) for i in attachment_ids}
    wanted = {o for o in oids.values() if o}
    found = {str(a.id) for a in Attachment.objects(id__in=list(wanted)).only("id")} if wanted else set()
    missing = [(index, str(i)) for index, i in enumerate(attachment_ids) if str(i) not in found]
    if not missing and wanted:
        changed = Attachment.objects(id__in=list(wanted)).update(
            add_to_set__referenced_by=str(application_id), inc__version=1)
        if changed != len(wanted):   # deleted after the check: take back what was granted, name what is gone
            Attachment.objects(id__in=list(wanted), referenced_by=str(application_id)).update(
                pull__referenced_by=str(application_id), inc__version=1)
            left = {str(a.id) for a in Attachment.objects(id__in=list(wanted)).only("id")}
            missing = [(index, str(i)) for index, i in enumerate(attachment_ids) if str(i) not in left] or \
                [(0, str(attachment_ids[0]))]
    if missing:
        raise Invalid("attachment.not_yours", params={"id": missing[0][1]}, errors=[
            {"path": f"/{index}", "code": "attachment_not_found", "message": "attachment.not_yours", "id": i}
            for index, i in missing])
    audit.record(None, "attachment.grant_read", "application", application_id,
                 attachments=[str(i) for i in attachment_ids])


def release(application_id: str) -> int:
    """Undo grant_read for one application (a submit that failed); returns how many attachments changed."""
    changed = Attachment.objects(referenced_by=str(application_id)).update(
        pull__referenced_by=str(application_id), inc__version=1)
    if changed:
        audit.record(None, "attachment.release", "application", application_id, count=changed)
    return changed


# ---- garbage collection -------------------------------------------------------------------------------------

@dataclass
class GcReport:
    scanned: int = 0
    removed: int = 0
    young: int = 0      # orphans inside the grace period, left for a later run
    removed_keys: list = field(default_factory=list)


def gc(store: ObjectStore, *, grace_seconds: int, dry_run: bool = False, batch: int = 500) -> GcReport:
    """Remove objects that no attachment record names and that are older than the grace period."""
    cutoff = clock.now() - timedelta(seconds=grace_seconds)
    report = GcReport()
    pending: list = []

    def sweep():
        ids = {clock.parse_id(obj.key.split("/")[1]) for obj in pending if obj.key.count("/") >= 2}
        live = set()
        for attachment in Attachment.objects(id__in=[i for i in ids if i]).only("variants"):
            live.update(v.key for v in attachment.variants)
        for obj in pending:
            if obj.key in live:
                continue
            if obj.modified > cutoff:
                report.young += 1
                continue
            if not dry_run:
                store.delete(obj.key, obj.version)
            report.removed += 1
            report.removed_keys.append(obj.key)
        pending.clear()

    for kind in KINDS:
        for obj in store.list(f"{kind}/"):
            report.scanned += 1
            pending.append(obj)
            if len(pending) >= batch:
                sweep()
    sweep()
    if report.removed and not dry_run:
        audit.record(None, "storage.gc", "storage", "", removed=report.removed, scanned=report.scanned)
    return report
