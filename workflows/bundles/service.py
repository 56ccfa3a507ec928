"""Bundles (一件事): drafts, validation, publishing immutable versions, archiving, and the catalogue residents read.

Who may do what (as for services): designers of the bundle's leading department and admins; a designer of another
department gets 404 for the draft; anyone without the designer role 403. A bundle may compose any department's
published services. Publishing pins each part's current service version, so the bundle's merged form keeps
matching the forms it was checked against; a part's service archived later makes the bundle unavailable (422).
"""
from __future__ import annotations

from mongoengine.errors import NotUniqueError

from core import audit, clock
from core.actor import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from workflows.bundles import checks
from workflows.bundles.models import BundleBody, BundleDraft, BundlePart, BundleVersion, SharedField

SCALARS = ("name", "name_en", "category", "description")


def _draft(actor: Actor, code: str) -> BundleDraft:
    actor.require_designer()
    draft = BundleDraft.objects(code=code).first()
    if draft is None or not actor.may_design(draft.department):
        raise NotFound()
    return draft


def _body(values: dict, base: BundleBody | None = None) -> BundleBody:
    data = {name: getattr(base, name) for name in SCALARS} if base is not None else {}
    data["parts"] = list(base.parts) if base is not None else []
    data["shared_fields"] = list(base.shared_fields) if base is not None else []
    data.update({k: v for k, v in values.items() if k in SCALARS})
    if "parts" in values:
        data["parts"] = [BundlePart(**p) for p in values["parts"]]
    if "shared_fields" in values:
        data["shared_fields"] = [SharedField(**s) for s in values["shared_fields"]]
    return BundleBody(**data)


def list_drafts(actor: Actor):
    actor.require_designer()
    filters = {} if actor.is_admin else {"department__in": sorted(actor.department_ids("designer"))}
    return BundleDraft.objects(**filters).order_by("-updated_at")


def create_draft(actor: Actor, *, code: str, department: str, **values) -> BundleDraft:
    actor.require_designer()
    if not actor.may_design(department):
        raise Forbidden("bundle.not_your_department")
    draft = BundleDraft(code=code, department=department, body=_body(values), created_by=actor.user_id)
    try:
        draft.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("bundle.code_taken", errors=[{"path": "/code", "code": "taken",
                                                     "message": "bundle.code_taken"}]) from None
    audit.record(actor, "bundle.draft.create", "bundle", code, department=department)
    return draft


def get_draft(actor: Actor, code: str) -> BundleDraft:
    return _draft(actor, code)


def update_draft(actor: Actor, code: str, expected_version: int, **values) -> BundleDraft:
    draft = _draft(actor, code)
    if draft.status == "archived":
        raise Conflict("bundle.archived")
    body = _body(values, draft.body)
    if draft.version != expected_version or not BundleDraft.objects(id=draft.id, version=expected_version).update_one(
            set__body=body, set__updated_at=clock.now(), inc__version=1):
        raise PreconditionFailed()
    audit.record(actor, "bundle.draft.update", "bundle", code, version=expected_version + 1, changed=sorted(values))
    return draft.reload()


def validate_draft(actor: Actor, code: str) -> dict:
    errors = checks.problems(_draft(actor, code).body)
    return {"valid": not errors, "errors": errors}


def publish(actor: Actor, code: str, expected_version: int | None = None) -> BundleVersion:
    """Freeze the draft as the next version (pinning each part's current service version); it becomes current.
    The same order as a service's publish: the draft takes the number, the version is inserted, older ones stop
    being current — a crash leaves at most a gap or two current versions, of which the newest answers."""
    draft = _draft(actor, code)
    if draft.status == "archived":
        raise Conflict("bundle.archived")
    if expected_version is not None and expected_version != draft.version:
        raise PreconditionFailed()
    errors = checks.problems(draft.body)
    if errors:
        raise Invalid("bundle.invalid", errors=errors)
    body = BundleBody(**{name: getattr(draft.body, name) for name in SCALARS},
                      shared_fields=list(draft.body.shared_fields), parts=[])
    services = checks.resolve(draft.body)
    for part in draft.body.parts:
        sv = services[part.key]
        body.parts.append(BundlePart(key=part.key, service_code=part.service_code, service_version=sv.version,
                                     service_name=sv.body.name, department=sv.department,
                                     depends_on=list(part.depends_on), on_reject=part.on_reject))
    newest = BundleVersion.objects(code=code).only("version").order_by("-version").first()
    number = max(draft.published_version or 0, newest.version if newest else 0) + 1
    if not BundleDraft.objects(id=draft.id, version=draft.version, status__ne="archived").update_one(
            set__published_version=number, set__status="published", inc__version=1):
        raise PreconditionFailed() if expected_version is not None else Conflict("bundle.publish_raced")
    published = BundleVersion(code=code, version=number, department=draft.department, body=body, current=True,
                              published_by=actor.user_id, published_at=clock.now())
    try:
        published.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("bundle.publish_raced") from None
    BundleVersion.objects(code=code, version__lt=number, current=True).update(set__current=False)
    audit.record(actor, "bundle.publish", "bundle", code, version=number,
                 parts=[f"{p.service_code}@{p.service_version}" for p in body.parts])
    return published


def archive(actor: Actor, code: str) -> BundleDraft:
    draft = _draft(actor, code)
    if draft.status != "archived":
        if not BundleDraft.objects(id=draft.id, version=draft.version).update_one(
                set__status="archived", set__updated_at=clock.now(), inc__version=1):
            raise PreconditionFailed()
        audit.record(actor, "bundle.archive", "bundle", code)
    BundleVersion.objects(code=code, current=True).update(set__current=False)
    return draft.reload()


# -- the catalogue ---------------------------------------------------------------------------------------------

def get_current(code: str) -> BundleVersion:
    found = BundleVersion.objects(code=code, current=True).order_by("-version").first()
    if found is None:
        raise NotFound()
    return found


def search(*, keyword: str | None = None, page: int = 1, page_size: int = 20) -> dict:
    """Current bundles in code order; `keyword` matches the code, name or a part's service name. A city has
    hundreds of bundles, not thousands: they are read whole and filtered here."""
    items = list(BundleVersion.objects(current=True).order_by("code"))
    if keyword:
        word = keyword.strip().casefold()
        items = [b for b in items if word in "\n".join([b.code, b.body.name, b.body.name_en, b.body.description] +
                                                         [p.service_name for p in b.body.parts]).casefold()]
    return {"items": items[(page - 1) * page_size:page * page_size], "total": len(items), "page": page,
            "page_size": page_size}


def merged_form(bundle: BundleVersion) -> dict:
    """One form for the whole bundle: the shared fields (asked once, each from the first part's form) and each
    part's own form, with the fields the shared ones fill."""
    from forms import render, service as forms
    from workflows.catalog import service as catalog

    renders, forms_of = {}, {}
    for part in bundle.body.parts:
        sv = catalog.get_version(part.service_code, part.service_version)
        form = forms.get_published(sv.body.form_key, sv.body.form_version)
        forms_of[part.key] = form
        renders[part.key] = render.render_model(form)
    shared = []
    for s in bundle.body.shared_fields:
        part_key, name = next(iter(s.fields.items()))
        component = next((c for c in renders[part_key]["components"] if c["path"] == f"/{name}"), None)
        shared.append({"key": s.key, "label": s.label or (component or {}).get("label"),
                       "path": f"/shared/{s.key}", "component": component, "fields": dict(s.fields)})
    parts = []
    for part in bundle.body.parts:
        fills = {name: s.key for s in bundle.body.shared_fields for k, name in s.fields.items() if k == part.key}
        form = forms_of[part.key]
        parts.append({"key": part.key, "service_code": part.service_code, "service_name": part.service_name,
                      "department": part.department, "depends_on": list(part.depends_on),
                      "on_reject": part.on_reject, "path": f"/parts/{part.key}",
                      "form": {"key": form.key, "version": form.version,
                               "render": f"/api/v1/forms/{form.key}/versions/{form.version}/render"},
                      "shared": fills})
    return {"shared": shared, "parts": parts}
