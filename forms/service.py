"""Form drafts, publishing, versions, and what clients read. Every state change writes its audit record.

Who may do what: designers of the draft's department and admins draft, validate, publish and archive; a
designer of another department gets 404 for the draft; anyone without the designer role gets 403. Published
versions are for every logged-in user.

Interface for other rooms (keep these names):
    get_published(key, version=None) -> FormVersion        # None: the newest; NotFound otherwise
    latest_published_version(key) -> int | None
"""
from __future__ import annotations

import json

from mongoengine.errors import NotUniqueError
from mongoengine.queryset.visitor import Q

from core import audit, clock
from core.actor import Actor
from core.cache import MiB, WeightedLRU
from core.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, PreconditionFailed
from forms import language, prefill, render, validation
from forms.models import FormDraft, FormVersion



# -- access --------------------------------------------------------------------------------------------------------

def _draft(actor: Actor, key: str) -> FormDraft:
    actor.require_designer()
    draft = FormDraft.objects(key=key).first()
    if draft is None or not actor.may_design(draft.department):
        raise NotFound()
    return draft


MAX_SCHEMA_DEPTH = 32        # JSON nesting of a stored schema (the language itself allows 4 group levels)
MAX_SCHEMA_ARRAY = 1000      # items of any one array in a schema (enum values, required names …)


def _schema_text(schema, max_bytes: int) -> str:
    """The schema as stored text, after the checks that keep absurd input out of the database: 413 beyond
    `max_bytes`, 422 for nesting deeper than 32 levels or an array of more than 1000 items."""
    if not isinstance(schema, dict):
        raise Invalid("form.schema_not_object", errors=[{"path": "/schema", "code": "not_an_object",
                                                         "message": "form.schema_not_object"}])
    problem = _structure_problem(schema)
    if problem:
        path, code = problem
        raise Invalid("form.schema_too_complex", errors=[{"path": "/schema" + path, "code": code,
                                                          "message": "form.schema_too_complex"}])
    text = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > max_bytes:
        raise PayloadTooLarge("form.draft_too_large", params={"limit": max_bytes},
                       errors=[{"path": "/schema", "code": "too_large", "message": "form.draft_too_large"}])
    return text


def _structure_problem(value):
    stack = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_SCHEMA_DEPTH:
            return path, "too_deep"
        if isinstance(node, dict):
            stack.extend((v, f"{path}/{str(k).replace('~', '~0').replace('/', '~1')}", depth + 1)
                         for k, v in node.items())
        elif isinstance(node, list):
            if len(node) > MAX_SCHEMA_ARRAY:
                return path, "too_many_items"
            stack.extend((v, f"{path}/{i}", depth + 1) for i, v in enumerate(node))
    return None


# -- drafts --------------------------------------------------------------------------------------------------------

def list_drafts(actor: Actor, *, status: str | None = None, department: str | None = None, q: str | None = None):
    """The drafts the actor may design, by key; `q` keeps those whose key, title or English title contains it
    (case-insensitive, as written: no regular expression)."""
    actor.require_designer()
    filters = {}
    if not actor.is_admin:
        filters["department__in"] = sorted(actor.department_ids("designer"))
    if department:
        filters["department"] = department if actor.is_admin or department in actor.department_ids("designer") \
            else "-"
    if status:
        filters["status"] = status
    found = FormDraft.objects(**filters)
    if q:
        found = found.filter(Q(key__icontains=q) | Q(title__icontains=q) | Q(title_en__icontains=q))
    return found.order_by("key")


def create_draft(actor: Actor, *, key: str, title: str, department: str, schema: dict, title_en: str = "",
                 max_bytes: int) -> FormDraft:
    actor.require_designer()
    if not actor.may_design(department):
        raise Forbidden("form.not_your_department")
    text = _schema_text(schema, max_bytes)
    now = clock.now()
    draft = FormDraft(key=key, title=title, title_en=title_en, department=department, schema_json=text,
                      created_by=actor.user_id, created_at=now, updated_by=actor.user_id, updated_at=now)
    try:
        draft.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("form.key_taken", errors=[{"path": "/key", "code": "taken",
                                                  "message": "form.key_taken"}]) from None
    audit.record(actor, "form.create", "form", key, department=department, title=title)
    return draft


def get_draft(actor: Actor, key: str) -> FormDraft:
    return _draft(actor, key)


def update_draft(actor: Actor, key: str, expected_version: int, *, title: str | None = None,
                 title_en: str | None = None, schema: dict | None = None,
                 max_bytes: int) -> FormDraft:
    """Change the draft if it is still at `expected_version` (the If-Match ETag); 412 otherwise."""
    draft = _draft(actor, key)
    if draft.status == "archived":
        raise Conflict("form.archived")
    changes = {"updated_by": actor.user_id, "updated_at": clock.now()}
    if schema is not None:
        changes["schema_json"] = _schema_text(schema, max_bytes)
    if title is not None:
        changes["title"] = title
    if title_en is not None:
        changes["title_en"] = title_en
    if draft.version != expected_version or not FormDraft.objects(id=draft.id, version=expected_version).update_one(
            **{f"set__{k}": v for k, v in changes.items()}, inc__version=1):
        raise PreconditionFailed()
    audit.record(actor, "form.update", "form", key, version=expected_version + 1,
                 changed=sorted(k for k in changes if k not in ("updated_by", "updated_at")))
    return draft.reload()


def check_draft(actor: Actor, key: str, schema: dict | None = None, *, max_bytes: int) -> dict:
    """The draft's (or the given unsaved schema's) problems: {valid, errors, fields}."""
    draft = _draft(actor, key)
    if schema is not None:
        _schema_text(schema, max_bytes)
    form, errors = language.analyze(draft.schema if schema is None else schema)
    return {"valid": not errors, "errors": errors, "fields": _count(form.fields) if form else None}


def render_draft(actor: Actor, key: str, schema: dict | None = None, *, max_bytes: int) -> dict:
    """The designer's live preview: the draft's (or an unsaved schema's) problems and its render model, drawn as a
    published version would be (version 0). A field of an unknown widget is left out; the model is None while the
    schema is not well-formed JSON Schema (a meta_schema problem) or has no field."""
    result = check_draft(actor, key, schema, max_bytes=max_bytes)
    draft = _draft(actor, key)
    form, _ = language.analyze(draft.schema if schema is None else schema, keep_form=True)
    model = render.model_of(form, key, 0, draft.title, draft.title_en) if form is not None and form.fields else None
    return {**result, "model": model}


def _count(fields) -> int:
    return sum(1 + _count(f.children) for f in fields)


def publish(actor: Actor, key: str, expected_version: int | None = None) -> FormVersion:
    """Freeze the draft as the next version number. Refused (422) while the draft has problems."""
    draft = _draft(actor, key)
    if draft.status == "archived":
        raise Conflict("form.archived")
    if expected_version is not None and draft.version != expected_version:
        raise PreconditionFailed()
    form, errors = language.analyze(draft.schema)
    if errors:
        raise Invalid("form.schema_invalid", errors=[{**e, "path": "/schema" + e["path"]} for e in errors])
    number = (latest_published_version(key, include_archived=True) or 0) + 1
    version = FormVersion(key=key, version=number, title=draft.title, title_en=draft.title_en,
                          department=draft.department, schema_json=draft.schema_json,
                          json_schema_json=json.dumps(form.json_schema, ensure_ascii=False),
                          published_by=actor.user_id, published_at=clock.now())
    try:
        version.save(force_insert=True)   # the unique (key, version) index lets one of two racing publishes win
    except NotUniqueError:
        raise Conflict("form.publish_race") from None
    FormDraft.objects(id=draft.id, published_version__lt=number).update_one(set__published_version=number,
                                                                           inc__version=1)
    audit.record(actor, "form.publish", "form", key, version=number)
    return version


def archive(actor: Actor, key: str, expected_version: int | None = None) -> FormDraft:
    """Withdraw the form: no more edits or publishing, and no new use of it (get_published(key) is 404);
    published versions stay readable by number for the applications already running on them."""
    draft = _draft(actor, key)
    if draft.status == "archived":
        return draft
    query = {"id": draft.id, "version": draft.version if expected_version is None else expected_version}
    if not FormDraft.objects(**query).update_one(set__status="archived", set__updated_at=clock.now(),
                                                 set__updated_by=actor.user_id, inc__version=1):
        raise PreconditionFailed()
    audit.record(actor, "form.archive", "form", key)
    return draft.reload()


def list_versions(actor: Actor, key: str):
    _draft(actor, key)
    return FormVersion.objects(key=key).exclude("schema_json", "json_schema_json").order_by("-version")


def get_version(actor: Actor, key: str, number: int) -> FormVersion:
    _draft(actor, key)
    return _version(key, number)


# -- published forms ----------------------------------------------------------------------------------------------

# Published versions never change and are never deleted: each is read once per worker (by key and number; a
# database wiped under a running worker is the one case this would not notice: tests clear it, core.cache).
PUBLISHED = WeightedLRU("published form versions", max_weight=32 * MiB,
                        weigh=lambda found: 2 * (len(found.schema_json) + len(found.json_schema_json)) + 1024)


def _version(key: str, number: int) -> FormVersion:
    if not 0 < number < 2 ** 63:   # no such version; past int64 the query itself would fail (OverflowError)
        raise NotFound()

    def load() -> FormVersion:
        found = FormVersion.objects(key=key, version=number).first()
        if found is None:
            raise NotFound()      # not cached: it may be published a moment later
        return found
    return PUBLISHED.get((key, number), load)


def published_many(pairs) -> dict:
    """{(key, number): FormVersion} for those published, the ones not cached read in one query (a process's
    validation names several task forms)."""
    wanted = {(key, number) for key, number in pairs if 0 < number < 2 ** 63}
    missing = [pair for pair in wanted if pair not in PUBLISHED]
    loaded = {(v.key, v.version): v for v in FormVersion.objects(
        __raw__={"$or": [{"key": key, "version": number} for key, number in missing]})} if missing else {}
    return {pair: PUBLISHED.get(pair, lambda pair=pair: loaded.get(pair) or _version(*pair))
            for pair in wanted if pair in loaded or pair in PUBLISHED}


def _archived(key: str) -> bool:
    return FormDraft.objects(key=key, status="archived").only("id").first() is not None


def latest_published_version(key: str, *, include_archived: bool = False) -> int | None:
    """The newest published version number of a form, or None (never published, or archived)."""
    if not include_archived and _archived(key):
        return None
    newest = FormVersion.objects(key=key).order_by("-version").only("version").first()
    return newest.version if newest else None


def latest_published_versions(keys) -> dict[str, int]:
    """latest_published_version of many forms in two queries: {key: newest version} for those published and not
    archived."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    archived = {d.key for d in FormDraft.objects(key__in=keys, status="archived").only("key")}
    newest: dict[str, int] = {}
    for version in FormVersion.objects(key__in=[k for k in keys if k not in archived]).only("key", "version"):
        newest[version.key] = max(newest.get(version.key, 0), version.version)
    return newest


def get_published(key: str, version: int | None = None) -> FormVersion:
    """A published, immutable form version; `version=None` means the newest one of a form that is not
    archived. Raises core.errors.NotFound."""
    if version is None:
        version = latest_published_version(key)
        if version is None:
            raise NotFound()
    return _version(key, version)


def published_for(actor: Actor, key: str, version: int | None) -> FormVersion:
    """What a logged-in client reads (`version=None`: the newest)."""
    return get_published(key, version)


def render_for(actor: Actor, key: str, version: int | None) -> dict:
    return render.render_model(get_published(key, version))


def check_for(actor: Actor, key: str, version: int | None, data: dict, profile: dict | None = None) -> dict:
    """Pre-validate a client's data; {valid: true, data: normalized} or Invalid with the errors."""
    normalized = validation.validate(get_published(key, version), data, prefill_profile=profile)
    return {"valid": True, "data": validation.as_json(normalized)}


def prefill_for(actor: Actor, key: str, version: int | None, profile: dict | None = None) -> dict:
    """The values this person has already given: from their profile and their earlier submissions."""
    return prefill.values(actor, get_published(key, version), profile or {})


def remember(actor: Actor, form_version: FormVersion, data: dict) -> int:
    """After a submission is accepted: keep its `history.*` answers for the person's next forms."""
    return prefill.remember(actor, form_version, data)
