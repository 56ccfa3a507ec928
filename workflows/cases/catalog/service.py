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

from core import audit, clock
from core.actor import Actor
from core.cache import MiB, WeightedLRU
from core.errors import Invalid, NotFound
from workflows.cases.catalog import checks, search as catalogue
from workflows.cases.catalog.search import SEARCH_FIELDS
from workflows.cases.catalog.models import AutoApproval, Material, ServiceBody, ServiceDraft, ServiceVersion
from workflows.cases.drafts import Drafts

BODY_FIELDS = tuple(name for name in ServiceBody._fields if name not in ("materials", "auto_approval"))


DRAFTS = Drafts("service", ServiceDraft, ServiceVersion, internal=SEARCH_FIELDS)
_draft = DRAFTS.find


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
    return DRAFTS.create(actor, code, department, _body(values))


def get_draft(actor: Actor, code: str) -> ServiceDraft:
    return _draft(actor, code)


def update_draft(actor: Actor, code: str, expected_version: int, **values) -> ServiceDraft:
    """Change the draft if it is still at `expected_version` (the If-Match ETag); 412 otherwise."""
    return DRAFTS.update(actor, code, expected_version, values, _body)


# -- validation, publishing, archiving ---------------------------------------------------------------------------

def validate_draft(actor: Actor, code: str) -> dict:
    """Every problem of the stored draft: {valid, errors: [{path, code, message}]}."""
    draft = _draft(actor, code)
    errors = checks.problems(actor, draft.body)
    return {"valid": not errors, "errors": errors}


def publish(actor: Actor, code: str, expected_version: int | None = None) -> ServiceVersion:
    """Freeze the draft as the next version, which becomes the current one. Refused (422) with its problems.
    The order of the writes, and what a crash between them leaves: workflows/cases/drafts.py."""
    draft = DRAFTS.publishable(actor, code, expected_version)
    errors = checks.problems(actor, draft.body)
    if errors:
        raise Invalid("service.invalid", errors=errors)
    number = DRAFTS.claim_number(draft, expected_version)
    published = ServiceVersion(code=code, version=number, department=draft.department, body=draft.body,
                               current=True, published_by=actor.user_id, published_at=clock.now(),
                               **catalogue.index_fields(code, draft.department, draft.body))
    try:
        DRAFTS.make_current(draft, published)
    finally:
        CURRENT.forget(code)
    audit.record(actor, "service.publish", "service", code, version=number, form=f"{draft.body.form_key}@"
                 f"{draft.body.form_version}", process=f"{draft.body.process_key}@{draft.body.process_version}")
    return published


def archive(actor: Actor, code: str, expected_version: int | None = None) -> ServiceDraft:
    """Take the service out of the catalogue: no new applications, no more edits or publishing. Published
    versions stay readable by number (get_version) for the applications already running on them."""
    try:
        return DRAFTS.archive(actor, code, expected_version)
    finally:
        CURRENT.forget(code)


def list_versions(actor: Actor, code: str):
    return DRAFTS.versions(actor, code)


def get_draft_version(actor: Actor, code: str, number: int) -> ServiceVersion:
    return DRAFTS.version(actor, code, number)


# -- the published catalogue -------------------------------------------------------------------------------------

def get_version(code: str, number: int) -> ServiceVersion:
    """A published version by number, current or not (applications keep the version they started on)."""
    if not 0 < number < 2 ** 63:
        raise NotFound()
    found = ServiceVersion.objects(code=code, version=number).exclude(*SEARCH_FIELDS).first()
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
        found = (ServiceVersion.objects(code=code, current=True).exclude(*SEARCH_FIELDS)
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
