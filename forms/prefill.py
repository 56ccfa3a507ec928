"""Prefill: so a resident types a thing once.

A field says where its first value comes from with `x-prefill`:
- `profile.name`, `profile.id_card`, `profile.phone` — the applicant's verified profile (the caller passes it);
- `history.<slot>` — what this person last answered in any form's field with the same slot (kept by
  `remember()` after a submission is accepted, one value per person and slot).
"""
from __future__ import annotations

import json

from core import audit, clock
from core.actor import Actor
from forms import validation
from forms.models import PrefillMemory


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
    out: dict = {}
    for path, f in fields:
        source, slot = f.prefill.split(".", 1)
        value = profile.get(slot) if source == "profile" else memory.get(slot)
        if value not in (None, ""):
            _set(out, path, value)
    return out


def remember(actor: Actor, form_version, data: dict) -> int:
    """Keep the `history.*` answers of accepted, normalized data; answers how many slots were written."""
    fields = [(path, f) for path, f in _prefilled(validation.compiled(form_version).form.fields)
              if f.prefill.startswith("history.")]
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
