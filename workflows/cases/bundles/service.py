"""Bundles (一件事): drafts, validation, publishing immutable versions, archiving, and the catalogue residents read.

Who may do what (as for services): designers of the bundle's leading department and admins; a designer of another
department gets 404 for the draft; anyone without the designer role 403. A bundle may compose any department's
published services. Publishing pins each part's current service version, so the bundle's merged form keeps
matching the forms it was checked against; a part's service archived later makes the bundle unavailable (422).
"""
from __future__ import annotations

from core import audit, clock
from core.actor import Actor
from core.errors import Invalid, NotFound
from workflows.cases.bundles import checks
from workflows.cases.bundles.models import BundleBody, BundleDraft, BundlePart, BundleVersion, SharedField
from workflows.cases.drafts import Drafts

SCALARS = ("name", "name_en", "category", "description")


DRAFTS = Drafts("bundle", BundleDraft, BundleVersion)
_draft = DRAFTS.find


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
    return DRAFTS.create(actor, code, department, _body(values))


def get_draft(actor: Actor, code: str) -> BundleDraft:
    return _draft(actor, code)


def list_versions(actor: Actor, code: str):
    return DRAFTS.versions(actor, code)


def get_draft_version(actor: Actor, code: str, number: int) -> BundleVersion:
    return DRAFTS.version(actor, code, number)


def update_draft(actor: Actor, code: str, expected_version: int, **values) -> BundleDraft:
    return DRAFTS.update(actor, code, expected_version, values, _body)


def validate_draft(actor: Actor, code: str) -> dict:
    errors = checks.problems(_draft(actor, code).body)
    return {"valid": not errors, "errors": errors}


def publish(actor: Actor, code: str, expected_version: int | None = None) -> BundleVersion:
    """Freeze the draft as the next version (pinning each part's current service version); it becomes current.
    The order of the writes, and what a crash between them leaves: workflows/cases/drafts.py."""
    draft = DRAFTS.publishable(actor, code, expected_version)
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
    number = DRAFTS.claim_number(draft, expected_version)
    published = BundleVersion(code=code, version=number, department=draft.department, body=body, current=True,
                              published_by=actor.user_id, published_at=clock.now())
    DRAFTS.make_current(draft, published)
    audit.record(actor, "bundle.publish", "bundle", code, version=number,
                 parts=[f"{p.service_code}@{p.service_version}" for p in body.parts])
    return published


def archive(actor: Actor, code: str) -> BundleDraft:
    return DRAFTS.archive(actor, code)


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
    from workflows.cases.catalog import service as catalog

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
