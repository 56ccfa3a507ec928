"""The form language: JSON Schema (draft 2020-12) for the data, `x-ui` hints per field, a set of field kinds.

`analyze(schema)` reads a designer's schema into a `Form` (the field tree, each field's effective JSON Schema,
the standard JSON Schema of the whole form) and lists every problem as {path, code, message} with a JSON
pointer into the schema. Publishing refuses a schema with problems; validation and rendering work from the
`Form`. docs/forms.md describes the language with examples.
"""
from __future__ import annotations

import copy

from jsonschema import Draft202012Validator

from forms import conditions, dependencies, regexes
from forms.vocabulary import (ATTACHMENT_ID, DEFAULT_MAX_ITEMS, DEFAULT_MAX_LENGTH, EXTENSIONS, FORMAT_OF, KEY,
                              KEYWORDS, MAX_FIELDS, MAX_ITEMS, MAX_NESTING, MAX_PATTERN_TEXT, MAX_STRING,
                              MASK_OF, MASKS, PREFILL_PROFILE, UI_KEYS, WIDGET_OF_FORMAT, WIDGETS, Field, Form,
                              text_of)

_META = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def analyze(schema, *, keep_form: bool = False) -> tuple[Form | None, list[dict]]:
    """(form, problems); the form is None when there are problems, unless `keep_form` (a published version
    checked again under rules tightened since: what it holds still compiles)."""
    errors: list[dict] = []
    if not isinstance(schema, dict):
        return None, [_err("", "not_an_object", "the form schema is a JSON object")]
    for problem in sorted(_META.iter_errors(schema), key=lambda e: list(e.absolute_path))[:50]:
        errors.append(_err(_pointer(problem.absolute_path), "meta_schema", problem.message[:300]))
    walker = _Walker(errors)
    if errors:
        # Report the language's problems too, not only the first meta-schema one: a designer fixes all at once.
        # The walker expects a well-formed schema; where it trips over the malformed part, the meta-schema
        # problems are what there is to say.
        try:
            walker.form(schema)
        except Exception:   # noqa: BLE001
            pass
        seen, unique = set(), []
        for item in errors:
            if (item["path"], item["code"]) not in seen:
                seen.add((item["path"], item["code"]))
                unique.append(item)
        return None, unique
    form = walker.form(schema)
    if walker.count > MAX_FIELDS:
        errors.append(_err("/properties", "too_many_fields",
                           f"{walker.count} fields; a form holds at most {MAX_FIELDS}"))
    return (None if errors and not keep_form else form), errors


def _err(path, code, message):
    return {"path": path, "code": code, "message": message}


def _pointer(parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class _Walker:
    def __init__(self, errors):
        self.errors = errors
        self.count = 0

    def error(self, path, code, message):
        if len(self.errors) < 200:
            self.errors.append(_err(path, code, message))

    # -- the form and its objects ----------------------------------------------------------------------------
    def form(self, schema) -> Form:
        ui = schema.get("x-ui") or {}
        self._keywords(schema, "", root=True)
        if schema.get("type", "object") != "object" or not isinstance(schema.get("properties"), dict) \
                or not schema["properties"]:
            self.error("", "not_an_object", "a form is {\"type\": \"object\", \"properties\": {…}}")
            return Form([], {}, {}, [], text_of(schema.get("title", "")))
        sections = [{"key": s.get("key"), "label": text_of(s.get("label"))} for s in ui.get("sections") or []
                    if isinstance(s, dict)]
        self.section_keys = {s["key"] for s in sections}
        fields, rules, props, required = self.object(schema, "", (), depth=0)
        json_schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                       "properties": props, **({"required": required} if required else {}),
                       **_standard(rules)}
        dependencies.check_and_order(fields, fields, self.error)
        return Form(fields, rules, json_schema, sections, text_of(schema.get("title", "")))

    def object(self, node, pointer, path, depth):
        """The fields of an object node; answers (fields, object rules, standard properties, required)."""
        declared = node.get("properties") or {}
        required = node.get("required") or []
        for i, name in enumerate(required):
            if name not in declared:
                self.error(f"{pointer}/required/{i}", "unknown_field", f"required names {name!r}, not a field")
        fields, props = [], {}
        for name, child in declared.items():
            child_pointer = f"{pointer}/properties/{_pointer([name])[1:]}"
            if not KEY.match(name):
                self.error(child_pointer, "invalid_key", "a field key is a letter, then letters, digits or _")
                continue
            f = self.field(name, child, child_pointer, path + (name,), depth)
            if f is None:
                continue
            f.required = name in required
            if f.kind == "readonly":
                if f.required:
                    self.error(child_pointer, "readonly_required", "read-only text holds no data to require")
            else:
                props[name] = f.node
            fields.append(f)
        rules = {k: node[k] for k in ("if", "then", "else", "allOf", "dependentRequired") if k in node}
        # every declared key counts here, so one broken field does not also break the rules that name it
        self.rules(rules, pointer, set(declared) - {f.name for f in fields if f.kind == "readonly"})
        return fields, rules, props, [r for r in required if r in props]

    def rules(self, rules, pointer, names):
        def check_branch(branch, at):
            if not isinstance(branch, dict):
                return
            for i, name in enumerate(branch.get("required") or []):
                if name not in names:
                    self.error(f"{at}/required/{i}", "unknown_field", f"{name!r} is not a field here")
            for name, sub in (branch.get("properties") or {}).items():
                if name not in names:
                    self.error(f"{at}/properties/{name}", "unknown_field", f"{name!r} is not a field here")
                self._subschema(sub, f"{at}/properties/{_pointer([name])[1:]}")
            self._keywords(branch, at)
            for key in ("if", "then", "else"):
                if key in branch:
                    check_branch(branch[key], f"{at}/{key}")
        for key in ("if", "then", "else"):
            if key in rules:
                check_branch(rules[key], f"{pointer}/{key}")
        for i, item in enumerate(rules.get("allOf") or []):
            check_branch(item, f"{pointer}/allOf/{i}")
            for key in ("if", "then", "else"):
                if isinstance(item, dict) and key in item:
                    check_branch(item[key], f"{pointer}/allOf/{i}/{key}")
        for name, needed in (rules.get("dependentRequired") or {}).items():
            for other in [name, *needed]:
                if other not in names:
                    self.error(f"{pointer}/dependentRequired/{name}", "unknown_field", f"{other!r} is not a field")

    def _subschema(self, node, at):
        """A rule's subschema for one field: the same keywords, and patterns checked as a field's are (they run
        on every check of the data)."""
        if not isinstance(node, dict):
            return
        self._keywords(node, at)
        if "pattern" in node:
            problem = regexes.check(node["pattern"])
            if problem:
                self.error(f"{at}/pattern", *problem)
        for name, sub in (node.get("properties") or {}).items() if isinstance(node.get("properties"), dict) else ():
            self._subschema(sub, f"{at}/properties/{_pointer([name])[1:]}")
        for key in ("items", "if", "then", "else"):
            self._subschema(node.get(key), f"{at}/{key}")
        for i, sub in enumerate(node.get("allOf") or []) if isinstance(node.get("allOf"), list) else ():
            self._subschema(sub, f"{at}/allOf/{i}")

    # -- one field ---------------------------------------------------------------------------------------------
    def field(self, name, node, pointer, path, depth) -> Field | None:
        if not isinstance(node, dict):
            self.error(pointer, "not_an_object", "a field is a JSON object")
            return None
        self.count += 1
        self._keywords(node, pointer)
        ui = node.get("x-ui") or {}
        if not isinstance(ui, dict):
            self.error(f"{pointer}/x-ui", "invalid_ui", "x-ui is an object")
            ui = {}
        for key in ui:
            if key not in UI_KEYS:
                self.error(f"{pointer}/x-ui/{key}", "unknown_ui_key", f"x-ui has no {key!r}")
        widget = ui.get("widget") or _infer_widget(node)
        if widget not in WIDGETS:
            self.error(f"{pointer}/x-ui/widget", "unknown_widget",
                       f"unknown widget {widget!r}; use one of {', '.join(WIDGETS)}")
            return None
        kind = WIDGETS[widget]
        if kind == "attachment" and widget == "photo" and node.get("type") == "array":
            kind = "attachments"
        if ui.get("section") is not None and self.section_keys and ui["section"] not in self.section_keys:
            self.error(f"{pointer}/x-ui/section", "unknown_section", f"no section {ui['section']!r} in x-ui.sections")
        f = Field(name=name, pointer=pointer, path=path, widget=widget, kind=kind, node={}, ui=ui,
                  read_only=bool(node.get("readOnly")))
        f.node = self.effective(f, node, pointer, depth)
        for key in ("x-visible-if", "x-required-if"):
            if key in node:
                try:
                    tree = conditions.parse(node[key])
                except conditions.ConditionError as exc:
                    self.error(f"{pointer}/{key}", "invalid_condition", str(exc))
                    continue
                setattr(f, "visible_if" if key == "x-visible-if" else "required_if", tree)
        prefill = node.get("x-prefill")
        if prefill is not None:
            source, _, slot = str(prefill).partition(".")
            material = source == "material" and KEY.match(slot) and kind in ("attachment", "attachments")
            if not (source == "profile" and slot in PREFILL_PROFILE or source == "history" and KEY.match(slot)
                    or material):
                self.error(f"{pointer}/x-prefill", "invalid_prefill",
                           "x-prefill is profile.name, profile.id_card, profile.phone, history.<slot> or (on a "
                           "photo or file field) material.<kind>")
            else:
                f.prefill = prefill
        f.mask = ui.get("mask") or MASK_OF.get(widget) or MASK_OF.get(f.prefill or "")
        if f.mask not in (None, *MASKS) or ui.get("mask") and kind not in ("string", "address") or \
                kind == "address" and f.mask not in (None, "address"):
            self.error(f"{pointer}/x-ui/mask", "invalid_mask", f"mask is one of {', '.join(MASKS)} on a text field "
                       "(address also on an address field)")
        return f

    def effective(self, f: Field, node, pointer, depth) -> dict:
        """The field's JSON Schema with its kind's shape filled in and the language's x-* keys removed."""
        eff = {k: copy.deepcopy(v) for k, v in node.items() if not k.startswith("x-") and k not in (
            "title", "description", "examples", "$comment", "readOnly")}
        kind, widget = f.kind, f.widget
        declared = node.get("type")

        def want(types):
            if declared is not None and declared not in types and declared != types:
                self.error(f"{pointer}/type", "widget_type_mismatch",
                           f"widget {widget!r} holds {types}, not {declared!r}")
        if kind == "string":
            want("string")
            eff["type"] = "string"
            if widget in FORMAT_OF:
                if "format" in node and node["format"] != FORMAT_OF[widget]:
                    self.error(f"{pointer}/format", "widget_type_mismatch", f"widget {widget!r} has format "
                               f"{FORMAT_OF[widget]!r}")
                eff["format"] = FORMAT_OF[widget]
            eff.setdefault("maxLength", DEFAULT_MAX_LENGTH.get(widget, 200))
            self._limits(eff, pointer, "minLength", "maxLength", MAX_PATTERN_TEXT if "pattern" in eff else MAX_STRING)
            if "pattern" in eff:
                problem = regexes.check(eff["pattern"])
                if problem:
                    self.error(f"{pointer}/pattern", *problem)
        elif kind in ("number", "integer"):
            want(kind if kind == "integer" else ("number", "integer"))
            eff["type"] = declared or kind
            self._bounds(eff, pointer)
        elif kind == "money":
            want(("number", "string"))
            eff.update(type=["string", "number"], format="money")
            self._bounds(eff, pointer)
        elif kind == "boolean":
            want("boolean")
            eff["type"] = "boolean"
        elif kind == "choice":
            self._options(f, node, pointer, node.get("enum"), f"{pointer}/enum")
            if declared is None and isinstance(node.get("enum"), list) and node["enum"]:
                eff["type"] = _json_type(node["enum"][0])
        elif kind == "choices":
            want("array")
            items = node.get("items") if isinstance(node.get("items"), dict) else {}
            values = items.get("enum")
            self._options(f, node, pointer, values, f"{pointer}/items/enum")
            eff.update(type="array", uniqueItems=True)
            eff.setdefault("maxItems", len(values) if isinstance(values, list) else 0)
            self._limits(eff, pointer, "minItems", "maxItems", MAX_ITEMS["choices"])
        elif kind == "address":
            want("object")
            levels = f.ui.get("levels", 3)
            if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= 4:
                self.error(f"{pointer}/x-ui/levels", "invalid_ui", "levels is 1 (province) … 4 (street)")
                levels = 3
            eff = {"type": "object", "additionalProperties": False, "required": ["region", "detail"],
                   "properties": {"region": {"type": "array", "items": {"type": "string", "format": "region-code"},
                                             "minItems": levels, "maxItems": levels},
                                  "detail": {"type": "string", "minLength": 1, "maxLength": 200}}}
        elif kind == "attachment":
            want("string")
            eff.update(ATTACHMENT_ID)
        elif kind == "attachments":
            want("array")
            eff.update(type="array", items=dict(ATTACHMENT_ID), uniqueItems=True)
            eff.setdefault("maxItems", DEFAULT_MAX_ITEMS["attachments"])
            self._limits(eff, pointer, "minItems", "maxItems", MAX_ITEMS["attachments"])
        elif kind in ("group", "repeat"):
            if depth >= MAX_NESTING:
                self.error(pointer, "too_deep", f"groups nest at most {MAX_NESTING} levels")
                return {}
            body, at = node, pointer
            if kind == "repeat":
                want("array")
                body, at = node.get("items"), f"{pointer}/items"
                if not isinstance(body, dict):
                    self.error(at, "not_an_object", "a repeatable group's items is an object schema")
                    return {}
            else:
                want("object")
            if not isinstance(body.get("properties"), dict) or not body["properties"]:
                self.error(at, "empty_group", "a group needs properties")
                return {}
            children, rules, props, required = self.object(body, at, f.path + (("*",) if kind == "repeat" else ()),
                                                           depth + 1)
            f.children, f.rules = children, rules
            obj = {"type": "object", "properties": props, **({"required": required} if required else {}),
                   **_standard(rules)}
            if kind == "repeat":
                eff = {k: v for k, v in eff.items() if k not in ("items", "properties", "required")}
                eff.update(type="array", items=obj)
                eff.setdefault("maxItems", DEFAULT_MAX_ITEMS["repeat"])
                self._limits(eff, pointer, "minItems", "maxItems", MAX_ITEMS["repeat"])
            else:
                eff = {**{k: v for k, v in eff.items() if k not in ("properties", "required", *rules)}, **obj}
        elif kind == "readonly":
            return {}
        return eff

    def _options(self, f, node, pointer, values, at):
        if not isinstance(values, list) or not values:
            self.error(at, "missing_options", "a choice field lists its values in enum")
            return
        seen = set()
        for i, value in enumerate(values):
            token = (type(value).__name__, repr(value))
            if token in seen:
                self.error(f"{at}/{i}", "duplicate_option", f"the value {value!r} is listed twice")
            seen.add(token)
            if isinstance(value, (dict, list)) or value is None:
                self.error(f"{at}/{i}", "invalid_option", "a choice value is a string, number or boolean")
        options = f.ui.get("options")
        if options is not None:
            if not isinstance(options, list) or not all(isinstance(o, dict) and "value" in o for o in options):
                self.error(f"{pointer}/x-ui/options", "invalid_ui", "options is a list of {value, label}")
            elif sorted(map(repr, (o["value"] for o in options))) != sorted(map(repr, values)):
                self.error(f"{pointer}/x-ui/options", "options_mismatch", "options must label exactly the enum values")

    def _bounds(self, eff, pointer):
        """minimum/exclusiveMinimum above maximum/exclusiveMaximum: no value could ever pass."""
        def number(key):
            value = eff.get(key)
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        for low_key in ("minimum", "exclusiveMinimum"):
            for high_key in ("maximum", "exclusiveMaximum"):
                low, high = number(low_key), number(high_key)
                if low is None or high is None:
                    continue
                if low > high or (low == high and (low_key, high_key) != ("minimum", "maximum")):
                    self.error(f"{pointer}/{low_key}", "limits_crossed", f"{low_key} {low} leaves no value "
                               f"up to {high_key} {high}")

    def _limits(self, eff, pointer, low_key, high_key, cap):
        low, high = eff.get(low_key, 0), eff.get(high_key)
        if isinstance(high, int) and high > cap:
            self.error(f"{pointer}/{high_key}", "limit_too_high", f"{high_key} is at most {cap}")
        if isinstance(high, int) and isinstance(low, int) and low > high:
            self.error(f"{pointer}/{low_key}", "limits_crossed", f"{low_key} is more than {high_key}")

    def _keywords(self, node, pointer, root=False):
        for key in node:
            if key.startswith("x-"):
                if key not in EXTENSIONS:
                    self.error(f"{pointer}/{key}", "unknown_extension", f"{key} is not part of the form language")
            elif key not in KEYWORDS:
                self.error(f"{pointer}/{_pointer([key])[1:]}", "unsupported_keyword",
                           f"{key} is not supported by the form language (docs/forms.md lists what is)")


def _standard(rules) -> dict:
    return copy.deepcopy(rules)


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _infer_widget(node) -> str | None:
    t = node.get("type")
    if "enum" in node:
        return "select"
    if t == "string":
        return WIDGET_OF_FORMAT.get(node.get("format"), "text")
    if t in ("integer", "number"):
        return t
    if t == "boolean":
        return "switch"
    if t == "object":
        return "group"
    if t == "array":
        items = node.get("items") if isinstance(node.get("items"), dict) else {}
        return "repeat" if items.get("type") == "object" else "checkbox" if "enum" in items else None
    return None
