"""The render model: a published form as a flat, ordered list of components a mini-program can draw and check
without a JSON Schema library.

Each component: {id, path, parent, type (the widget), kind, label, placeholder, help, section, order, required,
required_if, visible_if, read_only, prefill, rules, options, ...}. `path` is a JSON pointer into the data with
`*` for the row of a repeatable group; a group's or row's fields follow it with `parent` set to its path.
Conditions come as {"expr": the safe expression, "logic": the JsonLogic-shaped tree}; `var` names are
resolved in the object holding the field (the row for row fields), `$.` from the form's root. Conditional
requiredness written as JSON Schema (`if`/`then`/`else` on simple const/enum tests, `dependentRequired`) is
translated into `required_if`; rules that cannot be translated are listed in `server_rules` (checked by
POST …/check and on submission).
"""
from __future__ import annotations

import json

from core.cache import MiB, WeightedLRU
from forms import conditions
from forms.vocabulary import Field, text_of
from forms.validation import compiled

RULE_KEYS = ("minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
             "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "const")
# Weighed by its JSON text × 4 (the dicts and strings behind it took 2.3–3.3 times that, tracemalloc on the bench
# forms): the budget is per worker.
_cache = WeightedLRU("form render models", max_weight=16 * MiB,
                     weigh=lambda model: 4 * len(json.dumps(model, ensure_ascii=False, default=str)))


def render_model(form_version) -> dict:
    cache_key = (form_version.key, form_version.version, str(form_version.id))
    return _cache.get(cache_key, lambda: _build(form_version))


def _build(form_version) -> dict:
    return model_of(compiled(form_version).form, form_version.key, form_version.version,
                    form_version.title, form_version.title_en)


def model_of(form, key: str, version: int, title: str, title_en: str = "") -> dict:
    """The render model of an analysed form (a published version's, or a draft's for the designer's preview:
    version 0). Not cached: a draft changes with every edit."""
    sections = form.sections
    section_index = {s["key"]: i for i, s in enumerate(sections)}
    components, server_rules = [], []
    root_required_if = _translate_rules(form.rules, "", server_rules)
    ordered = sorted(enumerate(form.fields), key=lambda p: (
        section_index.get(p[1].ui.get("section"), len(sections)), _order(p[1]), p[0]))
    for _, f in ordered:
        _emit(f, None, root_required_if, components, server_rules)
    return {"key": key, "version": version, "title": {"zh-CN": title, "en": title_en or title},
            "sections": sections, "components": components, "server_rules": server_rules}


def _order(f: Field):
    order = f.ui.get("order")
    return order if isinstance(order, (int, float)) and not isinstance(order, bool) else 1e9


def _condition(tree):
    return None if tree is None else {"expr": to_text(tree), "logic": conditions.to_json(tree)}


def _emit(f: Field, parent, required_if_rules, out, server_rules):
    ui = f.ui
    extra_required = required_if_rules.get(f.name, [])
    trees = [t for t in ([f.required_if] if f.required_if is not None else []) + extra_required]
    required_if = None if not trees else trees[0] if len(trees) == 1 else {"or": trees}
    component = {
        "id": f.data_pointer, "path": f.data_pointer, "parent": parent, "type": f.widget, "kind": f.kind,
        "label": text_of(ui.get("label") or f.name), "placeholder": _text(ui.get("placeholder")),
        "help": _text(ui.get("help")), "section": ui.get("section"), "order": ui.get("order"),
        "required": f.required, "required_if": _condition(required_if), "visible_if": _condition(f.visible_if),
        "read_only": f.read_only, "prefill": f.prefill, "rules": _rules(f), "options": _options(f),
    }
    if f.kind == "readonly":
        component["text"] = _text(ui.get("text") or ui.get("label"))
    if f.kind == "address":
        component["levels"] = ui.get("levels", 3)
    if f.kind in ("attachment", "attachments"):
        component["accept"] = ui.get("accept", "image/*" if f.widget in ("photo", "signature") else None)
        component["max_size_mb"] = ui.get("max_size_mb")
        component["multiple"] = f.kind == "attachments"
    if "default" in f.node:
        component["default"] = f.node["default"]
    out.append(component)
    if f.children:
        inner_rules = _translate_rules(f.rules, f.data_pointer, server_rules)
        for _, child in sorted(enumerate(f.children), key=lambda p: (_order(p[1]), p[0])):
            _emit(child, f.data_pointer + ("/*" if f.kind == "repeat" else ""), inner_rules, out, server_rules)


def _text(value):
    return None if value is None else text_of(value)


def _rules(f: Field) -> dict:
    node = f.node
    if f.kind == "choices":
        node = {**node, **{k: v for k, v in (node.get("items") or {}).items() if k != "enum"}}
    return {k: node[k] for k in RULE_KEYS if k in node and not (k == "format" and f.kind == "attachments")}


def _options(f: Field):
    values = f.node.get("enum") if f.kind == "choice" else (f.node.get("items") or {}).get("enum") \
        if f.kind == "choices" else None
    if values is None:
        return None
    labels = {repr(o["value"]): o.get("label") for o in f.ui.get("options") or [] if isinstance(o, dict)}
    return [{"value": v, "label": text_of(labels.get(repr(v)) or str(v))} for v in values]


# -- JSON Schema conditional requiredness → safe expressions -------------------------------------------------------

def _translate_rules(rules: dict, where: str, server_rules: list) -> dict:
    """{field name: [condition trees under which it is required]} from if/then/else and dependentRequired."""
    found: dict = {}
    branches = ([rules] if "if" in rules else []) + [b for b in rules.get("allOf") or [] if isinstance(b, dict)]
    for i, branch in enumerate(branches):
        if "if" not in branch:
            server_rules.append({"path": where or "/", "rule": "allOf"})
            continue
        test = _simple_test(branch["if"])
        plain = all(set(b) <= {"required"} for b in (branch.get("then") or {}, branch.get("else") or {}))
        if test is None or not plain:
            server_rules.append({"path": where or "/", "rule": "if/then/else"})
            continue
        for name in (branch.get("then") or {}).get("required", []):
            found.setdefault(name, []).append(test)
        for name in (branch.get("else") or {}).get("required", []):
            found.setdefault(name, []).append({"!": [test]})
    for name, needed in (rules.get("dependentRequired") or {}).items():
        for other in needed:
            found.setdefault(other, []).append({"!=": [{"var": name}, None]})
    return found


def _simple_test(schema):
    """`{"properties": {"a": {"const": 1}}, "required": ["a"]}` and the like, as a condition tree."""
    if not isinstance(schema, dict) or set(schema) - {"properties", "required"}:
        return None
    tests = []
    required = schema.get("required") or []
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict) or len(sub) != 1:
            return None
        (kw, value), = sub.items()
        if kw == "const":
            test = {"==": [{"var": name}, value]}
        elif kw == "enum":
            test = {"in": [{"var": name}, list(value)]}
        else:
            return None
        # JSON Schema: a property test passes when the property is absent, unless it is also required
        tests.append(test if name in required else {"or": [{"==": [{"var": name}, None]}, test]})
    tests += [{"!=": [{"var": name}, None]} for name in required if name not in (schema.get("properties") or {})]
    return tests[0] if len(tests) == 1 else {"and": tests} if tests else None


def to_text(tree) -> str:
    """A condition tree back in the safe expression form."""
    if isinstance(tree, dict):
        (op, args), = tree.items()
        if op == "var":
            return args
        if op in ("and", "or"):
            return "(" + f" {op} ".join(to_text(a) for a in args) + ")"
        if op == "!":
            return f"not {to_text(args[0])}"
        return f"{to_text(args[0])} {op} {to_text(args[1])}"
    if isinstance(tree, list):
        return "[" + ", ".join(to_text(a) for a in tree) + "]"
    if tree is None:
        return "null"
    if isinstance(tree, bool):
        return "true" if tree else "false"
    if isinstance(tree, str):
        return "'" + tree.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(tree)
