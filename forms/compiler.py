"""A form compiled into nested closures that normalize and check submitted data in one pass.

Why not jsonschema at run time: on the benchmark form (100 fields, 10 conditionals, 20 rows) jsonschema 4.26's
compiled `Draft202012Validator` takes about 1.5 ms per validation on our machines, three times the budget,
most of it in per-keyword dispatch and `evolve()` on every descent. The form language is a fixed subset of
JSON Schema (forms.vocabulary.KEYWORDS), so each field's effective schema becomes one specialised closure here.
tests/test_forms_compiler.py checks that these closures accept and refuse exactly what jsonschema does on the
form's standard JSON Schema, field kind by field kind. jsonschema still checks every schema against the
2020-12 meta-schema at design time.

Errors are collected as (path tuple, code, params) and turned into messages only when there are some.
"""
from __future__ import annotations

import math
import re

from forms import conditions, formats
from forms.checks import _is_number, check
from forms.vocabulary import Field, Form

DROP = object()          # "leave this out of the normalized data"
MAX_ERRORS = 100
INT64 = 2 ** 63
_NUMBER_TEXT = re.compile(r"-?\d{1,18}(\.\d{1,18})?([eE][+-]?\d{1,3})?\Z")


# -- fields: normalize and check in one pass ----------------------------------------------------------------------

def _text(f: Field):
    node = f.node
    upper = f.widget in ("id-card", "uscc")
    mobile = f.widget == "mobile"
    rest = check({k: v for k, v in node.items() if k != "type"})

    def run(v, errs, path, root):
        if not isinstance(v, str):
            errs.append((path, "type", {"expected": "string"}))
            return v
        v = v.strip()
        if not v:
            return DROP       # an empty answer is no answer: `required` decides
        if upper:
            v = v.upper()
        elif mobile:
            v = formats.normalize_mobile(v)
        rest(v, errs, path)
        return v
    return run


def _number(f: Field):
    integer = f.node.get("type") == "integer"
    rest = check({k: v for k, v in f.node.items() if k != "type"})

    def run(v, errs, path, root):
        if isinstance(v, str):   # mini-program inputs often hand numbers over as text
            text = v.strip()
            if not text:
                return DROP
            if not _NUMBER_TEXT.match(text):
                errs.append((path, "type", {"expected": "integer" if integer else "number"}))
                return v
            v = float(text) if any(c in text for c in ".eE") else int(text)
        if not _is_number(v) or isinstance(v, float) and not math.isfinite(v):
            errs.append((path, "type", {"expected": "integer" if integer else "number"}))
            return v
        if integer:
            if isinstance(v, float):
                if not v.is_integer():
                    errs.append((path, "type", {"expected": "integer"}))
                    return v
                v = int(v)
            if not -INT64 <= v < INT64:   # "1e30" is whole, but no database keeps it as an integer
                errs.append((path, "maximum" if v > 0 else "minimum", {"limit": INT64 - 1 if v > 0 else -INT64}))
                return v
        rest(v, errs, path)
        return v
    return run


def _money(f: Field):
    rest = check({k: v for k, v in f.node.items() if k not in ("type", "format")})

    def run(v, errs, path, root):
        if isinstance(v, str):
            v = v.strip()
            if not v:
                return DROP
        amount = formats.to_money(v)
        if amount is None:
            errs.append((path, "money", None))
            return v
        rest(amount, errs, path)
        return amount
    return run


def _plain(f: Field):
    """Booleans, choices, attachments: checked as they are (strings trimmed first)."""
    whole = check(f.node)
    strings = f.kind in ("choice", "attachment")

    def run(v, errs, path, root):
        if strings and isinstance(v, str):
            v = v.strip()
            if not v:
                return DROP
        whole(v, errs, path)
        return v
    return run


def _address(f: Field):
    whole = check(f.node)

    def run(v, errs, path, root):
        if isinstance(v, dict):
            v = {k: (x.strip() if isinstance(x, str) else x) for k, x in v.items() if k in ("region", "detail")}
            if not v.get("detail"):
                v.pop("detail", None)
            if not v:
                return DROP
        before = len(errs)
        whole(v, errs, path)
        if len(errs) == before and not formats.is_region_chain(v["region"]):
            errs.append((path + ("region",), "region", None))
        return v
    return run


def _group(f: Field):
    obj = compile_object(f.children, f.rules)

    def run(v, errs, path, root):
        if not isinstance(v, dict):
            errs.append((path, "type", {"expected": "object"}))
            return v
        return obj(v, errs, path, root)
    return run


def _repeat(f: Field):
    row = compile_object(f.children, f.rules)
    low, high = f.node.get("minItems"), f.node.get("maxItems")

    def run(v, errs, path, root):
        if not isinstance(v, list):
            errs.append((path, "type", {"expected": "array"}))
            return v
        n = len(v)
        if high is not None and n > high:
            errs.append((path, "too_many_items", {"limit": high}))
            return v
        if low is not None and n < low:
            errs.append((path, "too_few_items", {"limit": low}))
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                errs.append((path + (i,), "type", {"expected": "object"}))
                continue
            out.append(row(item, errs, path + (i,), root))
        return out
    return run


def compile_field(f: Field):
    if f.kind == "string":
        return _text(f)
    if f.kind in ("number", "integer"):
        return _number(f)
    if f.kind == "money":
        return _money(f)
    if f.kind == "address":
        return _address(f)
    if f.kind == "group":
        return _group(f)
    if f.kind == "repeat":
        return _repeat(f)
    return _plain(f)


def compile_object(fields, rules, is_root=False):
    """fn(obj, errs, path, root) → the normalized object: unknown keys dropped, hidden fields dropped,
    every kept value normalized and checked, then `required`, `x-required-if` and the object's rules."""
    plan = [(f.name, compile_field(f), conditions.predicate(f.visible_if) if f.visible_if is not None else None)
            for f in fields if f.kind != "readonly"]
    required = [f.name for f in fields if f.required and f.kind != "readonly"]
    required_if = [(f.name, conditions.predicate(f.required_if)) for f in fields if f.required_if is not None]
    object_rules = check(rules) if rules else None
    missing = object()

    def run(obj, errs, path, root):
        out = {}
        if is_root:
            root = out
        hidden = set()
        for name, fn, visible in plan:
            if visible is not None and not visible(out, root):
                hidden.add(name)
                continue
            v = obj.get(name, missing)
            if v is missing or v is None:
                continue
            value = fn(v, errs, path + (name,), root)
            if value is not DROP:
                out[name] = value
        for name in required:
            if name not in out and name not in hidden:
                errs.append((path + (name,), "required", None))
        for name, when in required_if:
            if name not in out and name not in hidden and when(out, root):
                errs.append((path + (name,), "required", None))
        if object_rules is not None:
            object_rules(out, errs, path, hidden)
        return out
    return run


def _profile_fields(fields, path=()):
    """(path, profile slot, read-only) of every field prefilled from the profile, outside repeatable groups."""
    for f in fields:
        if f.prefill and f.prefill.startswith("profile."):
            yield path + (f.name,), f.prefill[len("profile."):], f.read_only
        if f.kind == "group":
            yield from _profile_fields(f.children, path + (f.name,))


class Compiled:
    """A published form, ready to validate submissions: built once per (key, version)."""

    def __init__(self, form: Form):
        self.form = form
        self._root = compile_object(form.fields, form.rules, is_root=True)
        self._profile_fields = list(_profile_fields(form.fields))

    def run(self, data: dict, profile: dict | None = None) -> tuple[dict, list]:
        if profile and self._profile_fields:
            data = self.prefill(data, profile)
        errs: list = []
        out = self._root(data, errs, (), None)
        return out, errs[:MAX_ERRORS]

    def prefill(self, data: dict, profile: dict) -> dict:
        """Every profile-prefilled field the profile has a value for takes that value, whatever the data says: the
        verified name, 身份证号 and phone cannot be typed over (read-only or not). A slot the profile lacks (not
        verified) keeps what was typed."""
        data = dict(data)
        for path, slot, _read_only in self._profile_fields:
            value = profile.get(slot)
            if not value:
                continue
            holder = data
            for part in path[:-1]:
                inner = holder.get(part)
                holder[part] = inner = dict(inner) if isinstance(inner, dict) else {}
                holder = inner
            holder[path[-1]] = value
        return data
