"""Validating submissions: normalization, every field kind valid and invalid, conditions, prefill, attachments."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.errors import Invalid
from forms import validation
from forms.models import FormVersion
from tests.forms_fixtures import ATTACHMENT, ATTACHMENT_2, ID_CARD, USCC, every_kind, valid_data


def version_of(schema, key="low-income", number=1):
    # an unsaved version: validation needs only its key, number, id and schema
    return FormVersion(key=key, version=number, title="t", department="d", schema_json=json.dumps(schema),
                       json_schema_json="{}")


FORM = version_of(every_kind())


def errors_of(data, form=FORM, **kw):
    with pytest.raises(Invalid) as caught:
        validation.validate(form, data, **kw)
    return {e["path"]: e["code"] for e in caught.value.errors}


def with_(**changes):
    data = valid_data()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_valid_data_comes_back_normalized():
    out = validation.validate(FORM, valid_data())
    assert out["name"] == "张三"                                   # trimmed
    assert out["id_card"] == ID_CARD                              # check character upper-cased
    assert out["phone"] == "13800138000"                          # +86, spaces and hyphens dropped
    assert out["amount"] == Decimal("1500.50") and isinstance(out["amount"], Decimal)
    assert out["members_count"] == 3 and out["income"] == 1200.5
    assert "unknown_field" not in out and "notice" not in out     # undeclared and read-only text dropped
    assert out["family"][0] == {"member_name": "张小三", "relation": "child", "school": "朝阳小学",
                                "member_id": "440308199001011239"}
    assert validation.as_json(out)["amount"] == "1500.50"


@pytest.mark.parametrize("field, value, code", [
    ("name", 42, "type"),
    ("id_card", "110105194912310021", "cn_id_card"),
    ("phone", "1380013800", "cn_mobile"),
    ("email", "not-an-email", "email"),
    ("company_code", USCC[:17] + "0", "cn_uscc"),
    ("reason", "太短", "too_short"),
    ("reason", "长" * 2001, "too_long"),
    ("postcode", "012345", "pattern"),
    ("income", -1, "minimum"),
    ("income", "lots", "type"),
    ("members_count", 2.5, "type"),
    ("members_count", 21, "maximum"),
    ("amount", "12.345", "money"),
    ("amount", "100000.01", "maximum"),
    ("apply_date", "2024-02-30", "date"),
    ("appointment", "2024-03-05 09:30", "datetime"),
    ("kind", "suburban", "not_in_options"),
    ("difficulties", ["illness", "illness"], "not_unique"),
    ("difficulties", ["flood"], "not_in_options@/difficulties/0"),
    ("difficulties", [], "too_few_items"),
    ("agree", False, "not_in_options"),
    ("married", "yes", "type"),
    ("id_photo", "../../etc/passwd", "attachment"),
    ("proofs", [ATTACHMENT] * 6, "too_many_items"),
    ("bank", "not an object", "type"),
])
def test_every_kind_refuses_what_it_should(field, value, code):
    code, _, where = code.partition("@")       # "code@/path" when the error names an item, not the field
    assert errors_of(with_(**{field: value})) == {where or f"/{field}": code}


def test_nested_errors_point_into_groups_rows_and_addresses():
    data = with_(bank={"account": "12"}, address={"region": ["110000", "120100", "120101"], "detail": "x"},
                 family=[{"member_name": "a", "relation": "child"}, {"relation": "cousin", "member_id": "1"}])
    assert errors_of(data) == {
        "/bank/account": "pattern", "/address/region": "region",
        "/family/0/member_id": "required",            # required because $.kind == 'rural'
        "/family/1/member_name": "required", "/family/1/relation": "not_in_options",
        "/family/1/member_id": "cn_id_card"}


def test_required_fields_and_empty_strings():
    assert errors_of(with_(name="   ", signature=None)) == {"/name": "required", "/signature": "required"}


def test_hidden_fields_are_dropped_and_never_required():
    out = validation.validate(FORM, with_(married=False, spouse_name="someone"))
    assert "spouse_name" not in out
    assert errors_of(with_(married=True, spouse_name=None)) == {"/spouse_name": "required"}
    rows = validation.validate(FORM, with_(family=[{"member_name": "p", "relation": "parent", "school": "x",
                                                    "member_id": ID_CARD}]))["family"]
    assert "school" not in rows[0]                                 # only a child's school is asked for


def test_json_schema_conditionals_if_then_and_dependent_required():
    assert errors_of(with_(kind="rural", address=None)) == {"/address": "required"}
    validation.validate(FORM, with_(kind="urban", address=None, family=[]))
    assert errors_of(with_(company_code=USCC, email=None)) == {"/email": "required"}


def test_prefill_from_the_profile():
    profile = {"name": "王五", "id_card": ID_CARD, "phone": "13900139000"}
    out = validation.validate(FORM, with_(name="冒名顶替", id_card=None, phone=None), prefill_profile=profile)
    assert out["name"] == "王五"                                   # read-only: the verified name wins
    assert out["id_card"] == ID_CARD and out["phone"] == "13900139000"   # empty: filled from the profile
    out = validation.validate(FORM, with_(phone="13700137000", id_card="110101199003076632"),
                              prefill_profile=profile)
    assert out["phone"] == "13900139000" and out["id_card"] == ID_CARD   # editable but verified: the profile's
    out = validation.validate(FORM, with_(phone="13700137000"), prefill_profile={"name": "王五"})
    assert out["phone"] == "13700137000"                           # a slot the profile lacks: what was typed


def test_errors_carry_both_languages():
    with pytest.raises(Invalid) as caught:
        validation.validate(FORM, with_(reason="太短"))
    (item,) = caught.value.errors
    assert item == {"path": "/reason", "code": "too_short", "message": "form.too_short",
                    "message_zh": "至少需要 5 个字符", "message_en": "At least 5 characters"}


def test_attachment_ids_are_listed_for_the_ownership_check():
    out = validation.validate(FORM, valid_data())
    assert validation.attachment_ids(FORM, out) == [ATTACHMENT, ATTACHMENT_2]


def test_not_an_object_and_junk_values():
    assert errors_of([1, 2]) == {"": "type"}
    assert errors_of(with_(family=[1, "x"], income=float("nan")))["/family/0"] == "type"


def test_bad_input_is_refused_with_one_error_per_field():
    rows = [{"member_name": "x", "relation": "child"}] * 10000
    data = with_(family=rows, reason="长" * 10_000_000, extra=json.loads("[" * 100 + "]" * 100))
    assert errors_of(data) == {"/family": "too_many_items", "/reason": "too_long"}   # timings: tests/perf


def test_the_compiled_validator_is_built_once_per_version():
    assert validation.compiled(FORM) is validation.compiled(FORM)
    assert validation.compiled(version_of(every_kind(), number=2)) is not validation.compiled(FORM)


@pytest.mark.parametrize("value", ["1e30", 1e30, "-1e19", 9.3e18])
def test_an_integer_beyond_64_bits_is_refused_not_stored(value):
    # "1e30" is a whole number, so it became int(1e30): a value MongoDB cannot store (an error after the check)
    form = version_of({"type": "object", "properties": {"n": {"type": "integer"}}}, key="int-range")
    assert errors_of({"n": value}, form=form)["/n"] in ("maximum", "minimum")
    assert validation.validate(form, {"n": 2 ** 63 - 1}) == {"n": 2 ** 63 - 1}
    assert validation.validate(form, {"n": "-1e18"}) == {"n": -10 ** 18}


def test_a_version_published_under_looser_rules_still_validates():
    # Rules tighten (\d*\d*x became catastrophic_regex; maxLength ≤ 2000 with a pattern); a version published
    # before must keep working for the applications running on it, not become a 500.
    old = version_of({"type": "object", "properties": {
        "code": {"type": "string", "pattern": "^\\d*\\d*x$", "maxLength": 5000}}}, key="published-long-ago")
    assert validation.validate(old, {"code": "12x"}) == {"code": "12x"}
    assert errors_of({"code": "12"}, form=old) == {"/code": "pattern"}
    assert errors_of({"code": "1" * 3000}, form=old) == {"/code": "too_long"}   # no pattern on 3000 characters
