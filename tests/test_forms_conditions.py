"""The x-visible-if / x-required-if expression language: parsed into a tree, never eval'd."""
from __future__ import annotations

import pytest

from forms import conditions
from forms.render import to_text


def holds(expr, scope, root=None):
    return conditions.predicate(conditions.parse(expr))(scope, root if root is not None else scope)


def test_comparisons_logic_and_membership():
    assert holds("married == true and children >= 2", {"married": True, "children": 3})
    assert not holds("married == true and children >= 2", {"married": True, "children": 1})
    assert holds("relation in ['child', 'spouse'] or age > 60", {"relation": "child"})
    assert holds("not (a || b)", {}) and not holds("!a", {"a": "x"})
    assert holds("'illness' in difficulties", {"difficulties": ["illness", "disability"]})
    assert holds("income <= 1500.50", {"income": 1500.5})


def test_missing_fields_are_null_and_mixed_kinds_are_false_not_errors():
    assert holds("spouse == null", {}) and not holds("spouse != null", {})
    assert not holds("age > 3", {"age": "five"}) and not holds("age > 3", {})
    assert not holds("flag == 1", {"flag": True})      # true is not 1


def test_names_resolve_in_their_object_and_dollar_names_from_the_root():
    row, root = {"relation": "child"}, {"kind": "rural", "address": {"detail": "x"}}
    assert holds("relation == 'child' and $.kind == 'rural'", row, root)
    assert holds("address.detail == 'x'", root)


@pytest.mark.parametrize("text", [
    "__import__('os').system('id')", "a.__class__", "open('/etc/passwd')", "a = 1", "a ==", "(a", "a b",
    "[x]", "'unterminated", "",
])
def test_anything_that_is_not_the_grammar_is_refused(text):
    with pytest.raises(conditions.ConditionError):
        conditions.parse(text)


def test_size_and_depth_are_bounded():
    with pytest.raises(conditions.ConditionError, match="nested"):
        conditions.parse("(" * 50 + "a" + ")" * 50)
    with pytest.raises(conditions.ConditionError, match="longer"):
        conditions.parse("a == 1 or " * 60 + "a == 2")


def test_the_tree_is_jsonlogic_shaped_and_prints_back():
    tree = conditions.parse("married == true and relation in ['child']")
    assert tree == {"and": [{"==": [{"var": "married"}, True]}, {"in": [{"var": "relation"}, ["child"]]}]}
    assert conditions.parse(to_text(tree)) == tree
    assert conditions.references(tree) == ["married", "relation"]


def test_decimal_literals_compare_with_json_numbers_as_a_client_would():
    # A JSON number arrives as a float; the literal 0.1 in a condition is parsed exactly. The render model
    # hands the client 0.1 as a number too, so the server must agree that 0.1 == 0.1.
    assert holds("x == 0.1", {"x": 0.1}) and holds("x <= 0.1", {"x": 0.1}) and not holds("x < 0.1", {"x": 0.1})
    assert holds("x in [0.5, 0.1]", {"x": 0.1}) and holds("x == 1.10", {"x": 1.1})
    assert not holds("x != 0.1", {"x": 0.1}) and holds("x > 0.1", {"x": 0.2})
