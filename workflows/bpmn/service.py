"""Process definitions: drafts, validation, publishing immutable versions. Every change writes its audit record.

Who may do what (as for forms): designers of the draft's department and admins; a designer of another
department gets 404 for the draft; anyone without the designer role gets 403.

Identity crosses in as plain values: the delivery room passes the known department codes and role names
(`known_lanes`), which lanes must name.
"""
from __future__ import annotations

from mongoengine.errors import NotUniqueError
from mongoengine.queryset.visitor import Q

from core import audit, clock
from core.actor import Actor
from core.cache import MiB, WeightedLRU
from core.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from workflows.bpmn import validation
from workflows.bpmn.engine import SPECS
from workflows.bpmn.models import DmnFile, ProcessDraft, ProcessVersion

MAX_BPMN_CHARS = 1_000_000
MAX_DMN_FILES = 10
MAX_DMN_CHARS = 500_000


def _draft(actor: Actor, key: str) -> ProcessDraft:
    actor.require_designer()
    draft = ProcessDraft.objects(key=key).first()
    if draft is None or not actor.may_design(draft.department):
        raise NotFound()
    return draft


def _check_sizes(bpmn_xml: str | None, dmn: list | None):
    if bpmn_xml is not None and len(bpmn_xml) > MAX_BPMN_CHARS:
        raise Invalid("process.too_large", errors=[{"path": "/bpmn_xml", "code": "too_large",
                                                     "message": f"at most {MAX_BPMN_CHARS} characters"}])
    if dmn is not None:
        if len(dmn) > MAX_DMN_FILES:
            raise Invalid("process.too_large", errors=[{"path": "/dmn", "code": "too_many",
                                                         "message": f"at most {MAX_DMN_FILES} DMN files"}])
        for index, item in enumerate(dmn):
            if len(item.get("xml") or "") > MAX_DMN_CHARS:
                raise Invalid("process.too_large", errors=[{"path": f"/dmn/{index}/xml", "code": "too_large",
                                                             "message": f"at most {MAX_DMN_CHARS} characters"}])
        # A file that is not DMN 1.x (`<dmn/>`, another namespace, not XML) can never become valid: refuse it
        # now, naming the file, rather than keep a draft that every later check stumbles on.
        problems = [problem for index, item in enumerate(dmn) for problem in [validation.read_dmn(index, item)[0]]
                    if problem]
        if problems:
            raise Invalid("process.not_dmn", errors=problems)


def _dmn_docs(dmn) -> list:
    return [DmnFile(name=item.get("name", ""), xml=item["xml"]) for item in dmn or []]


# -- drafts ----------------------------------------------------------------------------------------------------

def list_drafts(actor: Actor, *, department: str | None = None):
    actor.require_designer()
    filters = {}
    if not actor.is_admin:
        filters["department__in"] = list(actor.department_ids("designer"))
    if department:
        filters.setdefault("department", department)
    return ProcessDraft.objects(**filters).exclude("bpmn_xml", "dmn").order_by("-updated_at")


def create_draft(actor: Actor, *, key: str, name: str, department: str, bpmn_xml: str,
                 dmn: list | None = None) -> ProcessDraft:
    actor.require_designer()
    if not actor.may_design(department):
        raise Forbidden("process.not_your_department")
    _check_sizes(bpmn_xml, dmn)
    draft = ProcessDraft(key=key, name=name, department=department, bpmn_xml=bpmn_xml, dmn=_dmn_docs(dmn),
                         created_by=actor.user_id)
    try:
        draft.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("process.key_taken", errors=[{"path": "/key", "code": "taken",
                                                      "message": "process.key_taken"}]) from None
    audit.record(actor, "process.draft.create", "process", key, department=department)
    return draft


def get_draft(actor: Actor, key: str) -> ProcessDraft:
    return _draft(actor, key)


def update_draft(actor: Actor, key: str, expected_version: int, *, name: str | None = None,
                 bpmn_xml: str | None = None, dmn: list | None = None) -> ProcessDraft:
    draft = _draft(actor, key)
    _check_sizes(bpmn_xml, dmn)
    changes = {"set__updated_at": clock.now()}
    if name is not None:
        changes["set__name"] = name
    if bpmn_xml is not None:
        changes["set__bpmn_xml"] = bpmn_xml
    if dmn is not None:
        changes["set__dmn"] = _dmn_docs(dmn)
    if not ProcessDraft.objects(id=draft.id, version=expected_version).update_one(inc__version=1, **changes):
        raise PreconditionFailed()
    audit.record(actor, "process.draft.update", "process", key,
                 fields=sorted(k.removeprefix("set__") for k in changes if k != "set__updated_at"))
    return draft.reload()


# -- validation and publishing ---------------------------------------------------------------------------------

def _form_versions(form_keys) -> dict:
    """{formKey: newest published version} for those published (and not archived), in one batch."""
    from forms import service as forms   # workflows may use forms; imported late to keep start-up light
    return forms.latest_published_versions(form_keys)


class _Lookups:
    """The forms and processes one validation names, fetched in one batch (`$in`) instead of one query per user
    task and call activity; names the batch did not cover fall back to single look-ups."""

    def __init__(self):
        self.forms: dict | None = None
        self.calls: dict | None = None

    def prefetch(self, form_keys: set, process_ids: set) -> None:
        self.forms = dict(_form_versions(form_keys))
        self.forms.update({k: None for k in form_keys if k not in self.forms})
        self.calls = _resolve_calls(process_ids)

    def form_version(self, form_key: str):
        if self.forms is None or form_key not in self.forms:
            self.forms = {**(self.forms or {}), form_key: _form_versions([form_key]).get(form_key)}
        return self.forms[form_key]

    def resolve_call(self, process_id: str):
        if self.calls is not None and process_id in self.calls:
            return self.calls[process_id]
        return _resolve_call(process_id)


def _resolve_calls(process_ids: set) -> dict:
    """_resolve_call for many ids: {id: CalledProcess or None}, in at most three queries."""
    ids = sorted(process_ids)
    if not ids:
        return {}
    newest = {}
    for v in ProcessVersion.objects(process_id__in=ids).only("id", "process_id", "published_at"):
        if v.process_id not in newest or v.published_at > newest[v.process_id][1]:
            newest[v.process_id] = (v.id, v.published_at)
    by_key = {}
    for v in ProcessVersion.objects(key__in=[i for i in ids if i not in newest]).only("id", "key", "version"):
        if v.key not in by_key or v.version > by_key[v.key][1]:
            by_key[v.key] = (v.id, v.version)
    chosen = {**{k: i for k, (i, _) in by_key.items()}, **{k: i for k, (i, _) in newest.items()}}
    docs = {d.id: d for d in ProcessVersion.objects(id__in=list(chosen.values()))} if chosen else {}
    return {i: (validation.CalledProcess(d.process_id, d.key, d.version, d.bpmn_xml, tuple(x.xml for x in d.dmn))
                if (d := docs.get(chosen.get(i))) else None) for i in ids}


def _resolve_call(name: str) -> validation.CalledProcess | None:
    """A call activity binds to the newest published version of the definition with that key, or else of the
    process with that BPMN id. Keys and process ids are one namespace (see _namespace_errors), so a name means one
    definition; the binding is fixed at publish time (the called spec is compiled into the caller's version)."""
    found = (ProcessVersion.objects(key=name).order_by("-version").first()
             or ProcessVersion.objects(process_id=name).order_by("-published_at").first())
    if found is None:
        return None
    return validation.CalledProcess(found.process_id, found.key, found.version, found.bpmn_xml,
                                    tuple(d.xml for d in found.dmn))


def _namespace_errors(key: str, process_id: str) -> list:
    """Call activities name a key or a process id: if one definition's process id were another's key (or the same
    id were published under two keys), publishing it would capture every call meant for the other."""
    problems = []
    if ProcessVersion.objects(process_id=process_id, key__ne=key).first():
        problems.append(f"process id '{process_id}' is already published under another key")
    elif process_id != key and (ProcessVersion.objects(key=process_id).first()
                                or ProcessDraft.objects(key=process_id).first()):
        problems.append(f"process id '{process_id}' is another definition's key")
    if ProcessVersion.objects(process_id=key, key__ne=key).first():
        problems.append(f"the key '{key}' is already published as another definition's process id")
    return [{"path": process_id, "element_id": process_id, "code": "process_id_taken",
             "message": message + "; call activities name keys and process ids alike, so each must name one "
                                  "definition: choose another id"} for message in problems]


def _validate(key: str, bpmn_xml: str, dmn: list, known_lanes) -> validation.Result:
    lookups = _Lookups()
    ctx = validation.Context(key=key, known_lanes=frozenset(known_lanes) if known_lanes is not None else None,
                             form_version=lookups.form_version, resolve_call=lookups.resolve_call,
                             prefetch=lookups.prefetch)
    result = validation.validate(bpmn_xml, dmn, ctx)
    if result.process_id:
        result.errors.extend(_namespace_errors(key, result.process_id))
    result.errors.extend(_decision_fields(result.user_tasks))
    return result


# The variables a person's 同意/不同意 gives the process (workflows/cases/tasks/service.py `complete`): a task's form may
# not define them, or the form's field and the button could say different things (docs/bpmn.md, "办结结果").
ACTION_VARIABLES = ("decision", "approved")


def _decision_fields(user_tasks: list) -> list:
    """One problem per user task whose bound form version has a field named like an action variable."""
    from forms import service as forms   # (as _form_versions)
    from forms import validation as form_validation

    problems = []
    # a task without a form, or whose form is not published, is reported by the validation itself
    bound = [t for t in user_tasks if t.get("form_key") and t.get("form_version")]
    versions = forms.published_many((t["form_key"], t["form_version"]) for t in bound)
    for task in bound:
        version = versions.get((task["form_key"], task["form_version"]))
        if version is None:
            continue
        names = {f.name for f in form_validation.compiled(version).form.fields}
        for name in (n for n in ACTION_VARIABLES if n in names):
            problems.append({"path": task["element_id"], "element_id": task["element_id"], "code": "decision_field",
                             "field": name, "message": f"the form '{task['form_key']}' of this user task has a "
                             f"field '{name}': the decision is the 同意/不同意 action's; rename the field"})
    return problems


def validate_draft(actor: Actor, key: str, *, known_lanes, bpmn_xml: str | None = None,
                   dmn: list | None = None) -> dict:
    """Check the stored draft (or the given text, unsaved) and list every problem."""
    draft = _draft(actor, key)
    _check_sizes(bpmn_xml, dmn)
    dmn_items = dmn if dmn is not None else [{"name": d.name, "xml": d.xml} for d in draft.dmn]
    result = _validate(key, bpmn_xml if bpmn_xml is not None else draft.bpmn_xml, dmn_items, known_lanes)
    return {"valid": not result.errors, "errors": result.errors, "process_id": result.process_id,
            "user_tasks": result.user_tasks, "calls": result.calls}


def publish(actor: Actor, key: str, *, known_lanes, expected_version: int | None = None) -> ProcessVersion:
    """Validate, serialize the spec once and store it as the next immutable version."""
    draft = _draft(actor, key)
    if expected_version is not None and expected_version != draft.version:
        raise PreconditionFailed()
    dmn_items = [{"name": d.name, "xml": d.xml} for d in draft.dmn]
    result = _validate(key, draft.bpmn_xml, dmn_items, known_lanes)
    if result.errors:
        raise Invalid("process.invalid", errors=result.errors)
    # After the newest stored version, not the draft's count: a crash between the two writes below left the draft
    # a number behind, and every later publish then collided with the stored version (Conflict, for ever).
    newest = ProcessVersion.objects(key=key).only("version").order_by("-version").first()
    number = max(draft.published_version or 0, newest.version if newest else 0) + 1
    published = ProcessVersion(key=key, version=number, name=draft.name, department=draft.department,
                               process_id=result.process_id, bpmn_xml=draft.bpmn_xml, dmn=_dmn_docs(dmn_items),
                               spec_json=result.compiled.to_json(), calls=result.calls,
                               user_tasks=result.user_tasks, published_by=actor.user_id)
    try:
        published.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("process.publish_raced") from None   # someone published the same number first
    # Only the newest published number moves; a failure here leaves a version the next publish skips past.
    ProcessDraft.objects(Q(published_version=None) | Q(published_version__lt=number), id=draft.id).update_one(
        set__published_version=number, set__status="published", inc__version=1)
    audit.record(actor, "process.publish", "process", key, version=number, calls=result.calls)
    return published


def list_versions(actor: Actor, key: str):
    _draft(actor, key)
    return ProcessVersion.objects(key=key).exclude("bpmn_xml", "dmn", "spec_json").order_by("-version")


def get_version(actor: Actor, key: str, number: int) -> ProcessVersion:
    """A version as published, its BPMN and DMN included (for the designer)."""
    _draft(actor, key)
    found = ProcessVersion.objects(key=key, version=number).exclude("spec_json").first()
    if found is None:
        raise NotFound()
    return found


# Published versions never change: read once per worker by key and number, without their large texts (the spec
# has its own cache, SPECS; the BPMN is read only by the designer).
PUBLISHED = WeightedLRU("published process versions", max_weight=8 * MiB,
                        weigh=lambda found: 400 * (len(found.user_tasks or ()) + len(found.calls or ()) + 4))


def published_version(key: str, number: int) -> ProcessVersion:
    """A published version for other services (no access check: published versions are not secret)."""
    def load() -> ProcessVersion:
        found = ProcessVersion.objects(key=key, version=number).exclude("bpmn_xml", "spec_json").first()
        if found is None:
            raise NotFound()
        return found
    return PUBLISHED.get((key, number), load)


def spec_json(version: ProcessVersion) -> str:
    """The serialized spec from the in-memory cache (loaded from the version document once)."""
    return SPECS.get(str(version.id), lambda: version.spec_json or
                     ProcessVersion.objects(id=version.id).only("spec_json").first().spec_json)


def spec_json_by_id(version_id) -> str:
    return SPECS.get(str(version_id), lambda: ProcessVersion.objects(id=version_id).only("spec_json").first().spec_json)


# process version id → {element id: form version}; published versions never change
PINNED_FORMS = WeightedLRU("pinned task forms", max_weight=4 * MiB, weigh=lambda found: 200 * (len(found) + 1))


def pinned_forms(version_id, process_version: ProcessVersion | None = None) -> dict:
    """The form version each user task was bound to at publish (read once per process version)."""
    def load():
        version = process_version or ProcessVersion.objects(id=version_id).only("user_tasks").first()
        return {t["element_id"]: t.get("form_version") for t in (version.user_tasks if version else [])}
    return PINNED_FORMS.get(str(version_id), load)
