"""Checks for any schema of the form language's JSON Schema keywords, compiled into closures.

`check(schema)` answers fn(value, errs, path, hidden=()) that appends (path, code, params) for each problem.
forms/compiler.py uses it for each field's constraints and for object rules (if/then/else, allOf,
dependentRequired); `hidden` names properties a condition hid, which are never required.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal

from forms import formats, regexes
from forms.messages import FORMAT_CODES


def _is_number(v) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _type_ok(v, t) -> bool:
    if t == "string":
        return isinstance(v, str)
    if t == "number":
        return _is_number(v)
    if t == "integer":
        if isinstance(v, bool):
            return False
        if isinstance(v, float):
            return math.isfinite(v) and v.is_integer()
        if isinstance(v, Decimal):
            return v.is_finite() and v == v.to_integral_value()
        return isinstance(v, int)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    return v is None if t == "null" else False


def _key(v):
    """A hashable identity that keeps JSON Schema's equality: 1 == 1.0, but true is not 1."""
    if isinstance(v, bool):
        return ("b", v)
    if _is_number(v):
        return ("n", Decimal(str(v)) if isinstance(v, float) else Decimal(v))
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, list):
        return ("a", tuple(_key(x) for x in v))
    if isinstance(v, dict):
        return ("o", tuple(sorted((k, _key(x)) for k, x in v.items())))
    return ("z", None)


# -- generic checks: any schema of the language's keywords, on already-normalized values --------------------------

def check(schema) -> callable:
    """fn(value, errs, path, hidden=()) checking `value` against `schema`; `hidden` names properties that a
    condition hid (they are never required)."""
    if schema is True or schema == {}:
        return lambda v, errs, path, hidden=(): None
    if schema is False:
        return lambda v, errs, path, hidden=(): errs.append((path, "not_allowed", None))
    steps = []
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if types == ["string"]:
            def type_step(v, errs, path, hidden):
                if type(v) is not str:
                    errs.append((path, "type", {"expected": "string"}))
                    return False
                return True
        else:
            def type_step(v, errs, path, hidden):
                if not any(_type_ok(v, x) for x in types):
                    errs.append((path, "type", {"expected": types[0]}))
                    return False
                return True
        steps.append(type_step)
    if "enum" in schema or "const" in schema:
        values = schema["enum"] if "enum" in schema else [schema["const"]]
        if all(type(x) is str for x in values):
            strings = frozenset(values)
            steps.append(lambda v, errs, path, hidden: (type(v) is str and v in strings)
                         or errs.append((path, "not_in_options", None)))
        else:
            allowed = {_key(x) for x in values}
            steps.append(lambda v, errs, path, hidden: _key(v) in allowed
                         or errs.append((path, "not_in_options", None)))
    steps.extend(_string_steps(schema))
    steps.extend(_number_steps(schema))
    steps.extend(_array_steps(schema))
    steps.extend(_object_steps(schema))
    if not steps:
        return lambda v, errs, path, hidden=(): None
    if len(steps) == 1:
        only = steps[0]
        return lambda v, errs, path, hidden=(): only(v, errs, path, hidden) and None

    def run(v, errs, path, hidden=()):
        for step in steps:
            if step(v, errs, path, hidden) is False:
                return
    return run


def _string_steps(schema):
    low, high, pattern, fmt = (schema.get("minLength"), schema.get("maxLength"), schema.get("pattern"),
                               schema.get("format"))
    if low is None and high is None and pattern is None and fmt is None:
        return []
    regex = re.compile(pattern) if pattern else None
    test = formats.CHECKERS.get(fmt)
    code = FORMAT_CODES.get(fmt)

    def step(v, errs, path, hidden):
        if not isinstance(v, str):
            return None
        n = len(v)
        if high is not None and n > high:
            errs.append((path, "too_long", {"limit": high}))
            return False   # a pattern never runs on more than maxLength characters
        if low is not None and n < low:
            errs.append((path, "too_short", {"limit": low}))
        if regex is not None and n > regexes.MAX_TEXT:
            # a rule's pattern also sees values their field refused as too long: never run it on those
            errs.append((path, "too_long", {"limit": regexes.MAX_TEXT}))
        elif regex is not None and not regex.search(v):
            errs.append((path, "pattern", None))
        if test is not None and not test(v):
            errs.append((path, code, None))
        return None
    return [step]


_BOUNDS = (("minimum", "minimum", lambda v, b: v >= b), ("maximum", "maximum", lambda v, b: v <= b),
           ("exclusiveMinimum", "exclusive_minimum", lambda v, b: v > b),
           ("exclusiveMaximum", "exclusive_maximum", lambda v, b: v < b))


def _number_steps(schema):
    bounds = [(code, ok, schema[k]) for k, code, ok in _BOUNDS if k in schema]
    step_of = schema.get("multipleOf")
    if not bounds and step_of is None:
        return []
    dec_bounds = [(code, ok, b, Decimal(str(b))) for code, ok, b in bounds]
    dec_step = Decimal(str(step_of)) if step_of is not None else None

    def step(v, errs, path, hidden):
        if not _is_number(v):
            return None
        decimal = isinstance(v, Decimal)
        for code, ok, b, db in dec_bounds:
            if not ok(v, db if decimal else b):
                errs.append((path, code, {"limit": b}))
        if dec_step is not None:
            if (Decimal(str(v)) if not decimal else v) % dec_step != 0:
                errs.append((path, "multiple_of", {"limit": step_of}))
        return None
    return [step]


def _array_steps(schema):
    low, high, unique, items = (schema.get("minItems"), schema.get("maxItems"), schema.get("uniqueItems"),
                                schema.get("items"))
    if low is None and high is None and not unique and items is None:
        return []
    item_check = check(items) if items is not None else None

    def step(v, errs, path, hidden):
        if not isinstance(v, list):
            return None
        n = len(v)
        if high is not None and n > high:
            errs.append((path, "too_many_items", {"limit": high}))
            return False   # never walk 10,000 rows to say there are too many
        if low is not None and n < low:
            errs.append((path, "too_few_items", {"limit": low}))
        if unique and len({_key(x) for x in v}) != n:
            errs.append((path, "not_unique", None))
        if item_check is not None:
            for i, x in enumerate(v):
                item_check(x, errs, path + (i,))
        return None
    return [step]


def _object_steps(schema):
    props = {k: check(s) for k, s in (schema.get("properties") or {}).items()}
    required = schema.get("required") or []
    dependent = schema.get("dependentRequired") or {}
    closed = schema.get("additionalProperties") is False
    branches = [schema] if "if" in schema else []
    branches += [s for s in schema.get("allOf") or [] if isinstance(s, dict)]
    conditionals = [(check(b["if"]), check(b.get("then", True)), check(b.get("else", True)))
                    for b in branches if "if" in b]
    others = [check({k: v for k, v in b.items() if k not in ("if", "then", "else")})
              for b in schema.get("allOf") or [] if isinstance(b, dict)]
    if not (props or required or dependent or closed or conditionals or others):
        return []

    def step(v, errs, path, hidden):
        if not isinstance(v, dict):
            return None
        for name in required:
            if name not in v and name not in hidden:
                errs.append((path + (name,), "required", None))
        for name, needed in dependent.items():
            if name in v:
                for other in needed:
                    if other not in v and other not in hidden:
                        errs.append((path + (other,), "required", None))
        for name, fn in props.items():
            if name in v:
                fn(v[name], errs, path + (name,))
        if closed:
            for name in v:
                if name not in props:
                    errs.append((path + (name,), "not_allowed", None))
        for test, then, otherwise in conditionals:
            scratch = []
            test(v, scratch, path, hidden)
            (otherwise if scratch else then)(v, errs, path, hidden)
        for other in others:
            other(v, errs, path, hidden)
        return None
    return [step]
