"""Prefill: so a resident types a thing once.

A field says where its first value comes from with `x-prefill`:
- `profile.name`, `profile.id_card`, `profile.phone` — the applicant's verified profile (the caller passes it);
- `history.<slot>` — what this person last answered in any form's field with the same slot (kept by
  `remember()` after a submission is accepted, one value per person and slot);
- `material.<kind>` (photo and file fields) — a material of that kind the person already has (一人一档: an earlier
  upload or an issued 电子证照). The forms room does not know materials: the room that keeps them registers a
  source (`register_source("material", offer, keep)`); `offer(actor, kinds)` answers {kind: [attachment ids,
  newest first]} of the usable ones, `keep(actor, form_key, {kind: [attachment ids]})` files what an accepted
  submission attached.
"""
from __future__ import annotations

import json

from core import audit, clock
from core.actor import Actor
from forms import validation
from forms.models import PrefillMemory

_sources: dict = {}


def register_source(name: str, offer, keep) -> None:
    """Let another room answer `x-prefill: <name>.<kind>` fields (see the module's docstring)."""
    _sources[name] = (offer, keep)


def _prefilled(fields, path=()):
    for f in fields:
        if f.prefill:
            yield path + (f.name,), f
        if f.kind == "group":
            yield from _prefilled(f.children, path + (f.name,))


def _get(data, path):
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _set(data, path, value):
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def values(actor: Actor, form_version, profile: dict) -> dict:
    """The data to start the form with: {field: value} nested like the form's data."""
    fields = list(_prefilled(validation.compiled(form_version).form.fields))
    slots = [f.prefill.split(".", 1)[1] for _, f in fields if f.prefill.startswith("history.")]
    memory = {m.slot: json.loads(m.value_json)
              for m in PrefillMemory.objects(user_id=actor.user_id, slot__in=slots)} if slots else {}
    kinds = sorted({f.prefill.split(".", 1)[1] for _, f in fields if f.prefill.startswith("material.")})
    materials = _sources["material"][0](actor, kinds) if kinds and "material" in _sources else {}
    out: dict = {}
    for path, f in fields:
        source, slot = f.prefill.split(".", 1)
        if source == "material":
            ids = materials.get(slot) or []
            value = (ids[:1] if f.kind == "attachments" else ids[0]) if ids else None
        else:
            value = profile.get(slot) if source == "profile" else memory.get(slot)
        if value not in (None, ""):
            _set(out, path, value)
    return out


def remember(actor: Actor, form_version, data: dict) -> int:
    """Keep the `history.*` answers of accepted, normalized data; answers how many slots were written."""
    prefilled = list(_prefilled(validation.compiled(form_version).form.fields))
    _keep_materials(actor, form_version, data, prefilled)
    fields = [(path, f) for path, f in prefilled if f.prefill.startswith("history.")]
    written = []
    for path, f in fields:
        value = _get(data, path)
        if value in (None, ""):
            continue
        slot = f.prefill.split(".", 1)[1]
        PrefillMemory.objects(user_id=actor.user_id, slot=slot).update_one(
            upsert=True, set__value_json=json.dumps(validation.as_json(value), ensure_ascii=False),
            set__form_key=form_version.key, set__updated_at=clock.now())
        written.append(slot)
    if written:
        audit.record(actor, "form.prefill_remembered", "form", form_version.key, slots=written)
    return len(written)


def _keep_materials(actor: Actor, form_version, data: dict, prefilled) -> None:
    """Hand the attachments of `material.<kind>` fields to the room that keeps a person's materials."""
    if "material" not in _sources:
        return
    found: dict = {}
    for path, f in prefilled:
        value = _get(data, path) if f.prefill.startswith("material.") else None
        ids = [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
        if ids:
            found.setdefault(f.prefill.split(".", 1)[1], []).extend(ids)
    if found:
        _sources["material"][1](actor, form_version.key, found)
