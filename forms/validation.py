"""Validating submitted data against a published form version: the function the application flow calls.

    data = forms.validation.validate(form_version, request_data, prefill_profile={"name": …, "id_card": …})

The compiled validator of each published version is built once and kept (keyed by key, version and the
version document's id, so a test database that reuses a key never sees a stale entry).
"""
from __future__ import annotations

import json
from decimal import Decimal

from core.cache import MiB, WeightedLRU
from core.errors import Invalid
from forms import language, messages
from forms.compiler import Compiled

# A compiled validator (closures, field tree) took 22–27 bytes per character of its schema's JSON (tracemalloc,
# tests/forms_fixtures bench_form 100/300 fields and every_kind): the budget is per worker process.
COMPILED_WEIGHT_PER_SCHEMA_BYTE = 25
_cache = WeightedLRU("form validators", max_weight=64 * MiB, weigh=lambda built: built.weight)


def compiled(form_version) -> Compiled:
    """The compiled validator of a published version (built on first use, then cached)."""
    cache_key = (form_version.key, form_version.version, str(form_version.id))
    return _cache.get(cache_key, lambda: _compile(form_version))


def _compile(form_version) -> Compiled:
    # Published versions passed the checks of their day; later, stricter ones must not stop them working.
    form, errors = language.analyze(json.loads(form_version.schema_json), keep_form=True)
    if form is None or not form.fields:   # not even a form: a bug, not bad input
        raise RuntimeError(f"published form {form_version.key} v{form_version.version} no longer compiles: "
                           f"{errors[:3]}")
    built = Compiled(form)
    built.weight = COMPILED_WEIGHT_PER_SCHEMA_BYTE * len(form_version.schema_json)
    return built


def validate(form_version, data: dict, *, prefill_profile: dict | None = None) -> dict:
    """The normalized data, or core.errors.Invalid("form.invalid_data") whose errors are
    [{path, code, message, message_zh, message_en}] with JSON pointers into `data`.

    Normalized means: strings trimmed (an empty string is no answer), 手机号 without +86 or spaces, 身份证号 and
    统一社会信用代码 upper-cased, money as a 2-place Decimal, integers as int, fields the form does not declare
    removed, and fields hidden by their `x-visible-if` removed. `prefill_profile` ({"name", "id_card",
    "phone"}) sets every `x-prefill: profile.*` field it has a value for, whatever the data says (the verified
    identity).
    `message` is the key "form.<code>"; the API turns it into the request's language (forms/messages.py).
    """
    if not isinstance(data, dict):
        raise Invalid("form.invalid_data", errors=[messages.item((), "type", {"expected": "object"})])
    out, errs = compiled(form_version).run(data, prefill_profile)
    if errs:
        raise Invalid("form.invalid_data", errors=[messages.item(path, code, params) for path, code, params in errs])
    return out


def attachment_ids(form_version, data: dict) -> list[str]:
    """The attachment ids that photo, signature and file fields of `data` (validated data) refer to, in form
    order, without repeats. The caller checks through storage that the applicant owns each one."""
    found: list[str] = []

    def walk(fields, value):
        if not isinstance(value, dict):
            return
        for f in fields:
            v = value.get(f.name)
            if v is None:
                continue
            if f.kind == "attachment" and isinstance(v, str):
                found.append(v)
            elif f.kind == "attachments" and isinstance(v, list):
                found.extend(x for x in v if isinstance(x, str))
            elif f.kind == "group":
                walk(f.children, v)
            elif f.kind == "repeat" and isinstance(v, list):
                for row in v:
                    walk(f.children, row)
    walk(compiled(form_version).form.fields, data)
    return list(dict.fromkeys(found))


def as_json(data):
    """Normalized data made JSON-ready: money Decimals become strings with 2 places ("12.50")."""
    if isinstance(data, Decimal):
        return f"{data:.2f}"
    if isinstance(data, dict):
        return {k: as_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [as_json(v) for v in data]
    return data
