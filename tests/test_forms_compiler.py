"""The compiled validator accepts and refuses exactly what jsonschema does with the form's standard JSON Schema.

The compiled closures exist for speed (forms/compiler.py says why); this test keeps them honest. Values are
chosen where the form language deliberately goes beyond plain JSON Schema only in documented ways (trimming,
numbers typed as text, region chains, undeclared keys removed rather than refused), so those are left out
here and tested in test_forms_validation.py.
"""
from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator

from forms import formats, language
from forms.compiler import Compiled
from tests.forms_fixtures import ATTACHMENT, ID_CARD, USCC, every_kind, valid_data

SAMPLES = {
    "name": ["张三", "x" * 50, "x" * 51, 5, None, ["a"]],
    "id_card": [ID_CARD, ID_CARD.lower(), "110105194912310021", "1101051949123100", 110105],
    "phone": ["13800138000", "12800138000", "138001380001", 13800138000],
    "email": ["a@b.cn", "a@b", "@b.cn", "x" * 250 + "@b.cn"],
    "company_code": [USCC, USCC[:17] + "0", "I" * 18],
    "reason": ["一二三四五", "一二三四", "x" * 2000, "x" * 2001],
    "postcode": ["100101", "012345", "1001011"],
    "income": [0, 1.5, -0.01, True, 10 ** 20],
    "members_count": [1, 20, 21, 0, 2.0, 2.5, True],
    "amount": ["0", "1.5", "1.50", "1.505", 12, 12.25, 12.255, "-", False],
    "apply_date": ["2024-02-29", "2023-02-29", "2024-2-1", 20240101],
    "appointment": ["2024-03-05T09:30:00+08:00", "2024-03-05T01:30:00Z", "2024-03-05T09:30:00", "tomorrow"],
    "kind": ["urban", "rural", "suburban", 1],
    "difficulties": [["illness"], ["illness", "disability"], [], ["illness", "illness"], ["flood"], "illness"],
    "agree": [True, False, 1, "true"],
    "married": [True, False, 0],
    "address": [{"region": ["110000", "110100", "110105"], "detail": "x"},
                {"region": ["110000", "110100"], "detail": "x"}, {"region": ["11000", "110100", "110105"], "detail": "x"},
                {"region": ["110000", "110100", "110105"]}, "北京"],
    "id_photo": [ATTACHMENT, ATTACHMENT.upper(), "x", 1],
    "proofs": [[ATTACHMENT], [ATTACHMENT, ATTACHMENT], [ATTACHMENT] * 6, [], ["x"]],
    "bank": [{"account": "123456789012"}, {"account": "1234"}, {"bank_name": "x"}, {"account": 123456789012}],
    "family": [[], [{"member_name": "a", "relation": "child"}], [{"member_name": "a"}],
               [{"member_name": "a", "relation": "cousin"}], [{"member_name": "a", "relation": "child"}] * 11],
    "spouse_name": ["x", None],
}


def plain_form():
    """The every-kind form without what JSON Schema cannot say: x-visible-if, x-required-if."""
    schema = every_kind()

    def strip(node):
        if isinstance(node, dict):
            for key in ("x-visible-if", "x-required-if"):
                node.pop(key, None)
            for value in node.values():
                strip(value)
    strip(schema)
    return schema


FORM, _ = language.analyze(plain_form())
COMPILED = Compiled(FORM)
REFERENCE = Draft202012Validator(FORM.json_schema, format_checker=formats.format_checker())


def cases():
    for field, values in SAMPLES.items():
        for i, value in enumerate(values):
            yield pytest.param(field, value, id=f"{field}-{i}")


@pytest.mark.parametrize("field, value", list(cases()))
def test_compiled_agrees_with_jsonschema(field, value):
    data = valid_data()
    data.pop("unknown_field")
    data.update(name="张三", phone="13800138000")     # already in their normalized spelling
    data["family"] = [dict(row) for row in data["family"]]
    if value is None:
        data.pop(field, None)
    else:
        data[field] = copy.deepcopy(value)
    reference = REFERENCE.is_valid(data)
    _, errors = COMPILED.run(data)
    assert (not errors) == reference, (errors, [e.message for e in REFERENCE.iter_errors(data)])
