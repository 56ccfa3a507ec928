"""Every problem of a service draft, each named by a JSON pointer into the draft's body.

    problems = checks.problems(actor, body)    # [] when it may be published

Items are {path, code, message}; `message` is the key "service.<code>" the delivery room turns into zh-CN or en.
"""
from __future__ import annotations

import re

from core.actor import Actor
from core.errors import NotFound
from workflows.cases.catalog.models import ServiceBody
from workflows.cases.catalog.search import NATIONWIDE

# Province-level prefixes of GB/T 2260 (with 71/81/82: Taiwan, Hong Kong, Macao).
PROVINCES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                       "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
                       "65", "71", "81", "82"})
_REGION = re.compile(r"\d{6}\Z", re.ASCII)
ATTACHMENT_KINDS = ("photo", "signature", "document")
_HOLDS_FILES = ("attachment", "attachments")   # field kinds (forms.vocabulary.WIDGETS) whose values are uploads


def is_region(code: str) -> bool:
    """A 6-digit GB/T 2260 code: a real province; a county only under a city (no xx00yy); or 100000, 全国."""
    if code == NATIONWIDE:
        return True
    if not isinstance(code, str) or not _REGION.match(code) or code[:2] not in PROVINCES:
        return False
    return not (code[2:4] == "00" and code[4:] != "00")


def _problem(path: str, code: str) -> dict:
    return {"path": path, "code": code, "message": f"service.{code}"}


def _form_fields(form_version) -> dict:
    """Data pointer → field kind, for every field of a published form (rows' fields as /rows/*/name)."""
    from forms import validation

    out, stack = {}, list(validation.compiled(form_version).form.fields)
    while stack:
        field = stack.pop()
        out[field.data_pointer] = field.kind
        stack.extend(field.children)
    return out


def _form(actor: Actor, body: ServiceBody, errors: list):
    from forms import service as forms

    try:
        version = forms.get_published(body.form_key, body.form_version)
    except NotFound:
        known = forms.latest_published_version(body.form_key, include_archived=True)
        errors.append(_problem("/form_version" if known else "/form_key", "form_not_published"))
        return None
    if not actor.may_design(version.department):
        errors.append(_problem("/form_key", "form_not_your_department"))
        return None
    if forms.latest_published_version(body.form_key) is None:
        errors.append(_problem("/form_key", "form_archived"))
    return version


def _process(actor: Actor, body: ServiceBody, errors: list) -> None:
    from workflows.bpmn import service as processes
    from workflows.bpmn.models import ProcessVersion

    try:
        version = processes.published_version(body.process_key, body.process_version)
    except NotFound:
        known = ProcessVersion.objects(key=body.process_key).only("id").first()
        errors.append(_problem("/process_version" if known else "/process_key", "process_not_published"))
        return
    if not actor.may_design(version.department):
        errors.append(_problem("/process_key", "process_not_your_department"))


def _auto_approval(body: ServiceBody, errors: list) -> None:
    """秒批: the named decision must be in a published process version's DMN files."""
    from workflows.bpmn import decisions, service as processes
    from workflows.bpmn.models import ProcessVersion

    auto = body.auto_approval
    if auto is None:
        return
    try:
        version = processes.published_version(auto.process_key, auto.process_version)
    except NotFound:
        known = ProcessVersion.objects(key=auto.process_key).only("id").first()
        errors.append(_problem("/auto_approval/process_version" if known else "/auto_approval/process_key",
                               "process_not_published"))
        return
    if auto.decision_id not in decisions.decision_ids(version):
        errors.append(_problem("/auto_approval/decision_id", "decision_not_found"))


def _materials(body: ServiceBody, form_version, errors: list) -> None:
    fields = _form_fields(form_version) if form_version is not None else None
    names = set()
    for i, material in enumerate(body.materials):
        at = f"/materials/{i}"
        if material.name in names:
            errors.append(_problem(f"{at}/name", "duplicate_material"))
        names.add(material.name)
        if material.attachment_kind and material.attachment_kind not in ATTACHMENT_KINDS:
            errors.append(_problem(f"{at}/attachment_kind", "bad_attachment_kind"))
        if material.field and fields is not None:
            kind = fields.get(material.field)
            if kind is None:
                errors.append(_problem(f"{at}/field", "unknown_field"))
            elif material.attachment_kind and kind not in _HOLDS_FILES:
                errors.append(_problem(f"{at}/field", "field_not_attachment"))
        if body.handling == "online" and material.required and not (material.field or material.attachment_kind):
            errors.append(_problem(at, "material_not_online"))


def _regions(body: ServiceBody, errors: list) -> None:
    if not body.regions:
        errors.append(_problem("/regions", "no_region"))
    seen = set()
    for i, code in enumerate(body.regions):
        if not is_region(code):
            errors.append(_problem(f"/regions/{i}", "bad_region"))
        elif code in seen:
            errors.append(_problem(f"/regions/{i}", "duplicate_region"))
        seen.add(code)


def problems(actor: Actor, body: ServiceBody) -> list[dict]:
    errors: list[dict] = []
    form_version = _form(actor, body, errors)
    _process(actor, body, errors)
    _materials(body, form_version, errors)
    _regions(body, errors)
    _auto_approval(body, errors)
    if (body.time_limit_days or 0) > (body.statutory_limit_days or 0):
        errors.append(_problem("/time_limit_days", "over_statutory_limit"))   # 承诺时限 ≤ 法定时限
    return errors
