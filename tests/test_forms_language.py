"""Designer-time checks of the form language: every problem named by a JSON pointer into the schema."""
from __future__ import annotations


import pytest

from forms import language, regexes
from tests.forms_fixtures import every_kind


def problems(schema):
    form, errors = language.analyze(schema)
    return {(e["path"], e["code"]) for e in errors}


def one_field(**node):
    return {"type": "object", "properties": {"a": {"type": "boolean"}, "f": node}}


def test_the_every_kind_form_has_no_problems_and_expands_to_standard_json_schema():
    form, errors = language.analyze(every_kind())
    assert errors == []
    props = form.json_schema["properties"]
    assert "notice" not in props                                 # read-only text holds no data
    assert props["id_card"] == {"type": "string", "format": "cn-id-card", "maxLength": 18}
    assert props["address"]["properties"]["region"]["items"]["format"] == "region-code"
    assert props["proofs"]["items"] == {"type": "string", "format": "attachment-id"}
    assert props["family"]["items"]["required"] == ["member_name", "relation"]
    assert not any(k.startswith("x-") for k in str(form.json_schema).split("'"))


@pytest.mark.parametrize("node, where, code", [
    ({"type": "string", "x-ui": {"widget": "slider"}}, "/properties/f/x-ui/widget", "unknown_widget"),
    ({"type": "string", "x-ui": {"widget": "text", "colour": "red"}}, "/properties/f/x-ui/colour", "unknown_ui_key"),
    ({"type": "integer", "x-ui": {"widget": "text"}}, "/properties/f/type", "widget_type_mismatch"),
    ({"type": "string", "enum": ["a", "b", "a"]}, "/properties/f/enum/2", "duplicate_option"),
    ({"type": "string", "enum": ["a"], "x-ui": {"options": [{"value": "b", "label": "B"}]}},
     "/properties/f/x-ui/options", "options_mismatch"),
    ({"type": "string", "pattern": "([a-z]"}, "/properties/f/pattern", "invalid_regex"),
    ({"type": "string", "pattern": "^(a+)+$"}, "/properties/f/pattern", "catastrophic_regex"),
    ({"type": "string", "pattern": "^[0-9]+$", "maxLength": 5000}, "/properties/f/maxLength", "limit_too_high"),
    ({"type": "string", "x-visible-if": "nobody == 1"}, "/properties/f/x-visible-if", "unknown_field"),
    ({"type": "string", "x-required-if": "a = 1"}, "/properties/f/x-required-if", "invalid_condition"),
    ({"type": "string", "x-visible-if": "f != null"}, "/properties/f/x-visible-if", "condition_cycle"),
    ({"type": "string", "anyOf": [{"maxLength": 3}]}, "/properties/f/anyOf", "unsupported_keyword"),
    ({"type": "string", "x-visibleif": "a"}, "/properties/f/x-visibleif", "unknown_extension"),
    ({"type": "string", "maxLength": 100000}, "/properties/f/maxLength", "limit_too_high"),
    ({"type": "string", "x-prefill": "profile.salary"}, "/properties/f/x-prefill", "invalid_prefill"),
    ({"type": "string", "x-prefill": "material.hukou"}, "/properties/f/x-prefill", "invalid_prefill"),
    ({"type": "string", "x-prefill": "material.1x", "x-ui": {"widget": "photo"}}, "/properties/f/x-prefill",
     "invalid_prefill"),
    ({"type": "array", "items": {"type": "object", "properties": {}}}, "/properties/f/items", "empty_group"),
    ({"type": "string", "maxLength": "ten"}, "/properties/f/maxLength", "meta_schema"),
])
def test_problems_are_named_by_json_pointer(node, where, code):
    assert (where, code) in problems(one_field(**node))


def test_required_and_rules_must_name_fields():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"],
              "dependentRequired": {"a": ["c"]},
              "if": {"properties": {"z": {"const": 1}}}, "then": {"required": ["y"]}}
    found = problems(schema)
    assert ("/required/1", "unknown_field") in found
    assert ("/dependentRequired/a", "unknown_field") in found
    assert ("/if/properties/z", "unknown_field") in found and ("/then/required/0", "unknown_field") in found


def test_conditions_that_wait_on_each_other_are_a_cycle():
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "x-visible-if": "b != null"}, "b": {"type": "string", "x-visible-if": "a != null"}}}
    assert any(code == "condition_cycle" for _, code in problems(schema))


def test_conditions_reach_into_groups_and_rows_reach_the_root():
    schema = every_kind()
    schema["properties"]["spouse_name"]["x-visible-if"] = "married and address.detail != null"
    schema["properties"]["family"]["items"]["properties"]["school"]["x-visible-if"] = "$.nothing == 1"
    assert problems(schema) == {("/properties/family/items/properties/school/x-visible-if", "unknown_field")}


def test_more_than_500_fields_is_refused():
    schema = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(501)}}
    assert ("/properties", "too_many_fields") in problems(schema)
    del schema["properties"]["f500"]
    assert problems(schema) == set()


def test_groups_nest_only_so_deep():
    node = {"type": "string"}
    for _ in range(6):
        node = {"type": "object", "properties": {"g": node}}
    assert any(code == "too_deep" for _, code in problems({"type": "object", "properties": {"g": node}}))


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"^(\w+\s?)*$", r"(a|aa)*", r"^(x|y|xy)+$", r"(.*)*",
                                     r"\d*\d*\d*", r"^(a{1,9}){2,}$",
                                     # two adjacent repeats of overlapping characters: cubic with re.search
                                     r"\d*\d*x", r"(\d*)\d*x", r".*.*=", r"\d{0,900}\d{0,900}x", r"(\d+)\1*x",
                                     # … also with something between them that may match nothing
                                     r"\s*\S*\s*\S*x", r"\d*a?\d*x", r"\d*(ab)*\d*x", r"\d+-?\d+x"])
def test_catastrophic_patterns_are_refused(pattern):
    assert regexes.check(pattern)[0] == "catastrophic_regex"


@pytest.mark.parametrize("pattern", [r"^1[3-9]\d{9}$", r"^[a-z]+(-[a-z]+)*$", r"^(\d+,)*\d+$", r"^(\d{3}-?)+$",
                                     r"^[\u4e00-\u9fa5]{2,20}$", r"^(ab|cd)+$", r"^(\d+\.)?\d+$"])
def test_ordinary_patterns_are_accepted(pattern):
    assert regexes.check(pattern) is None   # how fast they run: tests/perf/test_refusal_bench.py


@pytest.mark.parametrize("pattern", [r"\d*\d*x", r"(\d*)\d*x", r"[0-9]+[a-z]", r"^\d+\s*\d*$", r".*x",
                                     r"^\s*\S+\s*$", r"^\S+\s+\S+$", r"\D*\d*x", r"[^,]*,*x", r"\s*\S*\s*\S*x"])
def test_an_accepted_pattern_runs_on_at_most_its_fields_maxlength(pattern):
    """Whatever passes the checks runs on at most maxLength characters (how fast: tests/perf)."""
    form, errors = language.analyze({"type": "object", "properties": {
        "f": {"type": "string", "pattern": pattern, "maxLength": language.MAX_PATTERN_TEXT}}})
    if errors:
        assert errors[0]["code"] == "catastrophic_regex"
        return
    # what an accepted pattern may run on is bounded by count, not by a clock (timings: tests/perf)
    assert form.fields[0].node["maxLength"] <= language.MAX_PATTERN_TEXT


@pytest.mark.parametrize("where", ["if", "then", "else", "allOf"])
def test_patterns_inside_conditional_rules_are_checked_like_field_patterns(where):
    # A rule's subschema may put a pattern on a field; it runs on every check, so (a+)+ there hangs a worker.
    evil = {"properties": {"a": {"pattern": "^(a+)+$"}}}
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    if where == "allOf":
        schema["allOf"] = [evil]
    else:
        schema.update({"if": {"properties": {"b": {"const": "x"}}}, "then": {}, "else": {}})
        schema[where] = evil
    assert (f"/{where}{'/0' if where == 'allOf' else ''}/properties/a/pattern", "catastrophic_regex") in \
        problems(schema)
    schema_2 = {"type": "object", "properties": {"a": {"type": "string"}},
                "allOf": [{"properties": {"a": {"anyOf": [{"pattern": "x"}]}}}]}
    assert ("/allOf/0/properties/a/anyOf", "unsupported_keyword") in problems(schema_2)


def test_a_pattern_never_runs_on_more_than_2000_characters():
    # A rule's pattern sees the field's value even when the field refused it as too long.
    from forms.compiler import Compiled
    form, errors = language.analyze({"type": "object", "properties": {"a": {"type": "string", "maxLength": 10}},
                                     "allOf": [{"properties": {"a": {"pattern": "[0-9]+[a-z]"}}}]})
    assert not errors
    _, errs = Compiled(form).run({"a": "0" * 30_000})   # unanchored: 5 s here before
    assert (("a",), "too_long", {"limit": 10}) in errs
    # the rule's pattern did not run: it refused the text by its length (a count, not a clock)
    assert (("a",), "too_long", {"limit": regexes.MAX_TEXT}) in errs and \
        not any(code == "pattern" for _, code, _ in errs)
