"""Services (事项): drafts, validation, publishing immutable versions, archiving, and what residents read.

Who may do what (as for forms and processes): designers of the draft's department and admins; a designer of
another department gets 404 for the draft; anyone without the designer role gets 403. The published catalogue
is for every logged-in user.

Interface for other rooms (keep these names):
    get_current(code) -> ServiceVersion          # the version residents apply for; NotFound if none
    get_version(code, number) -> ServiceVersion  # a version an application started on; NotFound if none
    search(keyword=, department=, category=, region=, page=, page_size=) -> {items, total, page, page_size}
"""
from __future__ import annotations

from mongoengine.errors import NotUniqueError

from core import audit, clock
from core.actor import Actor
from core.cache import MiB, WeightedLRU
from core.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from workflows.catalog import checks, search as catalogue
from workflows.catalog.models import AutoApproval, Material, ServiceBody, ServiceDraft, ServiceVersion

BODY_FIELDS = tuple(name for name in ServiceBody._fields if name not in ("materials", "auto_approval"))


def _draft(actor: Actor, code: str) -> ServiceDraft:
    actor.require_designer()
    draft = ServiceDraft.objects(code=code).first()
    if draft is None or not actor.may_design(draft.department):
        raise NotFound()
    return draft


def _body(values: dict, base: ServiceBody | None = None) -> ServiceBody:
    """A body from plain values (materials as dicts), over `base` for the fields not given."""
    data = {name: getattr(base, name) for name in BODY_FIELDS} if base is not None else {}
    data["materials"] = list(base.materials) if base is not None else []
    data["auto_approval"] = base.auto_approval if base is not None else None
    data.update({k: v for k, v in values.items() if k in BODY_FIELDS})
    if "materials" in values:
        data["materials"] = [Material(**m) for m in values["materials"]]
    if "auto_approval" in values:
        data["auto_approval"] = AutoApproval(**values["auto_approval"]) if values["auto_approval"] else None
    return ServiceBody(**data)


# -- drafts ------------------------------------------------------------------------------------------------------

def list_drafts(actor: Actor, *, status: str | None = None, department: str | None = None):
    actor.require_designer()
    filters = {}
    if not actor.is_admin:
        filters["department__in"] = sorted(actor.department_ids("designer"))
    if department:
        filters["department"] = department if actor.may_design(department) else "-"
    if status:
        filters["status"] = status
    return ServiceDraft.objects(**filters).order_by("-updated_at")


def create_draft(actor: Actor, *, code: str, department: str, **values) -> ServiceDraft:
    actor.require_designer()
    if not actor.may_design(department):
        raise Forbidden("service.not_your_department")
    draft = ServiceDraft(code=code, department=department, body=_body(values), created_by=actor.user_id)
    try:
        draft.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("service.code_taken", errors=[{"path": "/code", "code": "taken",
                                                      "message": "service.code_taken"}]) from None
    audit.record(actor, "service.draft.create", "service", code, department=department)
    return draft


def get_draft(actor: Actor, code: str) -> ServiceDraft:
    return _draft(actor, code)


def update_draft(actor: Actor, code: str, expected_version: int, **values) -> ServiceDraft:
    """Change the draft if it is still at `expected_version` (the If-Match ETag); 412 otherwise."""
    draft = _draft(actor, code)
    if draft.status == "archived":
        raise Conflict("service.archived")
    body = _body(values, draft.body)
    if draft.version != expected_version or not ServiceDraft.objects(id=draft.id, version=expected_version).update_one(
            set__body=body, set__updated_at=clock.now(), inc__version=1):
        raise PreconditionFailed()
    audit.record(actor, "service.draft.update", "service", code, version=expected_version + 1,
                 changed=sorted(values))
    return draft.reload()


# -- validation, publishing, archiving ---------------------------------------------------------------------------

def validate_draft(actor: Actor, code: str) -> dict:
    """Every problem of the stored draft: {valid, errors: [{path, code, message}]}."""
    draft = _draft(actor, code)
    errors = checks.problems(actor, draft.body)
    return {"valid": not errors, "errors": errors}


def publish(actor: Actor, code: str, expected_version: int | None = None) -> ServiceVersion:
    """Freeze the draft as the next version, which becomes the current one. Refused (422) with its problems.

    Order, so that a crash anywhere leaves a state the next publish mends: (1) the draft takes the number,
    conditionally on the version read (a stale If-Match, a concurrent edit, publish or archive loses here and
    nothing is written); (2) the version is inserted as current; (3) older versions stop being current. A crash
    after (1) leaves a gap in the numbers; after (2), two current versions, of which get_current answers the
    newest and the next publish or archive clears the older.
    """
    draft = _draft(actor, code)
    if draft.status == "archived":
        raise Conflict("service.archived")
    if expected_version is not None and expected_version != draft.version:
        raise PreconditionFailed()
    errors = checks.problems(actor, draft.body)
    if errors:
        raise Invalid("service.invalid", errors=errors)
    newest = ServiceVersion.objects(code=code).only("version").order_by("-version").first()
    number = max(draft.published_version or 0, newest.version if newest else 0) + 1
    if not ServiceDraft.objects(id=draft.id, version=draft.version, status__ne="archived").update_one(
            set__published_version=number, set__status="published", inc__version=1):
        if expected_version is not None:
            raise PreconditionFailed()
        raise Conflict("service.publish_raced")   # someone changed, published or archived it first
    published = ServiceVersion(code=code, version=number, department=draft.department, body=draft.body,
                               current=True, published_by=actor.user_id, published_at=clock.now(),
                               **catalogue.index_fields(code, draft.department, draft.body))
    try:
        published.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("service.publish_raced") from None
    ServiceVersion.objects(code=code, version__lt=number, current=True).update(set__current=False)
    CURRENT.forget(code)
    # An archive that landed between (1) and (2) cleared the versions before ours existed: take ours out too.
    if ServiceDraft.objects(id=draft.id, status="archived").only("id").first():
        ServiceVersion.objects(id=published.id).update_one(set__current=False)
        raise Conflict("service.archived")
    audit.record(actor, "service.publish", "service", code, version=number, form=f"{draft.body.form_key}@"
                 f"{draft.body.form_version}", process=f"{draft.body.process_key}@{draft.body.process_version}")
    return published


def archive(actor: Actor, code: str, expected_version: int | None = None) -> ServiceDraft:
    """Take the service out of the catalogue: no new applications, no more edits or publishing. Published
    versions stay readable by number (get_version) for the applications already running on them."""
    draft = _draft(actor, code)
    if draft.status != "archived":
        query = {"id": draft.id, "version": draft.version if expected_version is None else expected_version}
        if not ServiceDraft.objects(**query).update_one(set__status="archived", set__updated_at=clock.now(),
                                                         inc__version=1):
            raise PreconditionFailed()
        audit.record(actor, "service.archive", "service", code)
    # Also when already archived: mends a crash between the two writes.
    ServiceVersion.objects(code=code, current=True).update(set__current=False)
    CURRENT.forget(code)
    return draft.reload()


def list_versions(actor: Actor, code: str):
    _draft(actor, code)
    return ServiceVersion.objects(code=code).exclude("search_keys", "search_text").order_by("-version")


def get_draft_version(actor: Actor, code: str, number: int) -> ServiceVersion:
    _draft(actor, code)
    return get_version(code, number)


# -- the published catalogue -------------------------------------------------------------------------------------

def get_version(code: str, number: int) -> ServiceVersion:
    """A published version by number, current or not (applications keep the version they started on)."""
    if not 0 < number < 2 ** 63:
        raise NotFound()
    found = ServiceVersion.objects(code=code, version=number).exclude("search_keys", "search_text").first()
    if found is None:
        raise NotFound()
    return found


# Every submit asks for the current version: a worker keeps it CURRENT_MAX_AGE seconds. The worker that publishes
# or archives forgets it at once; other workers take a new version (or an archive) up to that much later.
CURRENT_MAX_AGE = 5.0
CURRENT = WeightedLRU("current service versions", max_weight=4 * MiB, max_age=CURRENT_MAX_AGE,
                      weigh=lambda found: 2048 + 256 * len(found.body.materials or ()))


def get_current(code: str) -> ServiceVersion:
    """The version residents see and apply for: the newest current one. NotFound if archived or unpublished."""
    def load() -> ServiceVersion:
        found = (ServiceVersion.objects(code=code, current=True).exclude("search_keys", "search_text")
                 .order_by("-version").first())
        if found is None:
            raise NotFound()
        return found
    return CURRENT.get(code, load)


def search(*, keyword: str | None = None, department: str | None = None, category: str | None = None,
           region: str | None = None, page: int = 1, page_size: int = 20) -> dict:
    """Current versions matching every filter given, in code order: {items, total, page, page_size}."""
    return catalogue.search(keyword=keyword, department=department, category=category, region=region,
                            page=page, page_size=page_size)
