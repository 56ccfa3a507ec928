"""What a person's form data becomes in process data: checked against the task's form, typed for conditions.

Every completion of a user task (designers' test runs now, approvers' tasks later) calls

    data = task_data.prepare(process_version, element_id, data, form_key=…, form_version=…)

which finds the form version the task is bound to, validates the data with `forms` (core.errors.Invalid with
JSON pointers under /data on failure), keeps only the form's fields, and converts each value to the type
conditions and scripts compare (docs/bpmn.md, "How form fields arrive in process data"):

| widget | in process data |
|---|---|
| money | `decimal.Decimal` with 2 places (`amount >= 10000` compares exactly; no float rounding) |
| integer | `int` |
| number | `int` for whole numbers written without a point, else `float` |
| date | `datetime.date` (the helpers `add_days`, `days_between`, `working_days` … take it) |
| datetime | `datetime.datetime`, aware, in UTC |
| switch | `bool` |
| select, radio | `str` (the option's value) |
| checkbox, multiselect | `list` of `str` |
| group | `dict` of its fields; repeat: `list` of such dicts |
| photo, signature, file | attachment id(s) as `str` |
| text and the rest | `str`, trimmed; 手机号 without +86, 身份证号 upper-cased |

Every one of these survives the engine's state serializer (Decimal and date are registered in
workflows/bpmn/engine.py; datetime is SpiffWorkflow's own), so a restored instance compares the same values.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date, datetime, timezone

from lxml import etree

from core.errors import Invalid, NotFound

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_start_forms: OrderedDict = OrderedDict()   # process version id → (form key, version or None) or None
_lock = threading.Lock()


def form_of(process_version, element_id: str, *, form_key: str | None = None,
            form_version: int | None = None):
    """The published FormVersion a user task is bound to, or None for a task without a form.

    The version comes from the task's own `formVersion`, else the one pinned at publish time (the process
    version's `user_tasks`, or those of a process it calls), else the newest published one."""
    from forms import service as forms
    from workflows.bpmn.models import ProcessVersion

    pinned = {t["element_id"]: t for t in (process_version.user_tasks or [])}
    entry = pinned.get(element_id)
    if entry is None and process_version.calls:   # a user task of a called process: pinned on that version
        for bound in process_version.calls.values():
            called_key, _, number = str(bound).rpartition("@")
            called = ProcessVersion.objects(key=called_key, version=int(number)).only("user_tasks").first() \
                if number.isdigit() else None
            entry = {t["element_id"]: t for t in (called.user_tasks if called else [])}.get(element_id)
            if entry is not None:
                break
    form_key = form_key or (entry or {}).get("form_key")
    if not form_key:
        return None
    if form_version is None and entry is not None and entry.get("form_key") == form_key:
        form_version = entry.get("form_version")
    return forms.get_published(form_key, form_version)


def start_form(process_version) -> tuple[str, int | None] | None:
    """(formKey, formVersion) named by the main process's start event, or None: a start form is optional."""
    cache_key = str(process_version.id)
    if cache_key in _start_forms:
        return _start_forms[cache_key]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(process_version.bpmn_xml.encode(), parser)
    found = None
    for process in root.iterfind(f"{{{BPMN}}}process"):
        if process.get("id") != process_version.process_id:
            continue
        for start in process.iterfind(f"{{{BPMN}}}startEvent"):
            props = {p.get("name"): p.get("value") for p in start.iterfind(
                f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property")}
            if props.get("formKey"):
                number = props.get("formVersion") or ""
                found = (props["formKey"], int(number) if number.isascii() and number.isdigit() else None)
                break
    with _lock:
        _start_forms[cache_key] = found
        while len(_start_forms) > 1024:
            _start_forms.popitem(last=False)
    return found


def prepare_start(process_version, data: dict | None) -> dict:
    """Start data checked and typed with the start event's form (`formKey` on the start event), if it names
    one; otherwise as given."""
    from forms import service as forms

    named = start_form(process_version)
    if named is None:
        return dict(data or {})
    try:
        form = forms.get_published(*named)
    except NotFound:
        raise Invalid("workflow.start_form_missing", errors=[{
            "path": "/data", "code": "form_not_published",
            "message": f"the start event's form '{named[0]}' is not published"}]) from None
    return convert(form, data or {})


def prepare(process_version, element_id: str, data: dict | None, *, form_key: str | None = None,
            form_version: int | None = None) -> dict:
    """The task's data checked against its form and converted to process-data types (see the module doc)."""
    form = form_of(process_version, element_id, form_key=form_key, form_version=form_version)
    if form is None:
        return dict(data or {})
    return convert(form, data or {})


def convert(form_version, data: dict, *, pointer_prefix: str = "/data") -> dict:
    """Validate `data` with the form version and type each value; Invalid names JSON pointers under the prefix."""
    from forms import validation

    try:
        clean = validation.validate(form_version, data)
    except Invalid as e:
        for item in e.errors:
            item["path"] = pointer_prefix + item.get("path", "")
        raise
    return _typed(validation.compiled(form_version).form.fields, clean)


def typed(form_version, clean: dict) -> dict:
    """Data already validated by `forms.validation.validate` (an application's), converted to process types."""
    from forms import validation

    return _typed(validation.compiled(form_version).form.fields, clean)


def _typed(fields, values: dict) -> dict:
    out = dict(values)
    for f in fields:
        if f.name not in out:
            continue
        value = out[f.name]
        if f.kind == "group" and isinstance(value, dict):
            out[f.name] = _typed(f.children, value)
        elif f.kind == "repeat" and isinstance(value, list):
            out[f.name] = [_typed(f.children, row) if isinstance(row, dict) else row for row in value]
        elif (f.widget == "date" or f.node.get("format") == "date") and isinstance(value, str):
            out[f.name] = date.fromisoformat(value[:10])
        elif (f.widget == "datetime" or f.node.get("format") == "date-time") and isinstance(value, str):
            out[f.name] = _datetime(value)
    return out


def _datetime(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def for_task(process_version, task, data: dict | None) -> dict:
    """prepare() for a ready SpiffWorkflow user task: its element id and its formKey/formVersion properties."""
    spec = task.task_spec
    properties = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    number = properties.get("formVersion")
    return prepare(process_version, spec.bpmn_id, data, form_key=properties.get("formKey"),
                   form_version=int(number) if number and number.isascii() and number.isdigit() else None)
