"""Value formats: 身份证号 (GB 11643), 手机号, 统一社会信用代码 (GB 32100), email, dates, money, region codes."""
from __future__ import annotations

from decimal import Decimal

import pytest

from forms import formats
from tests.forms_fixtures import ID_CARD, ID_CARD_2, USCC, USCC_2


@pytest.mark.parametrize("number", [ID_CARD, ID_CARD_2, ID_CARD.lower(), "310104200002291236"])
def test_real_id_card_numbers_pass(number):
    # 2000-02-29 is a real date (a leap year); its check digit is computed by the standard's weights
    assert formats.id_card_check_char("31010420000229123") == "6"
    assert formats.is_cn_id_card(number)


@pytest.mark.parametrize("number, why", [
    ("110105194912310021", "wrong check digit"),
    ("11010519491231002", "17 characters"),
    ("110105194912310020X", "19 characters"),
    ("110105190002300012", "30 February"),
    ("310104190002291237", "1900 was not a leap year"),
    ("990105194912310027", "no province 99"),
    ("110105209912310015", "born in the future"),
    ("11010519491231002Y", "only X may be the check character"),
    ("11010519491231 02X", "a space"),
])
def test_wrong_id_card_numbers_fail(number, why):
    assert not formats.is_cn_id_card(number), why


def test_uscc_check_character():
    assert formats.is_cn_uscc(USCC) and formats.is_cn_uscc(USCC_2) and formats.is_cn_uscc(USCC.lower())
    assert formats.uscc_check_char(USCC[:17]) == USCC[17]
    assert not formats.is_cn_uscc(USCC[:17] + "4")          # wrong check character
    assert not formats.is_cn_uscc("91350100M000100I43")     # I is not in the code's alphabet
    assert not formats.is_cn_uscc(USCC[:16])


def test_mobile_numbers_are_normalized_then_checked():
    assert formats.normalize_mobile("+86 138-0013-8000") == "13800138000"
    assert formats.normalize_mobile("0086 13800138000") == "13800138000"
    assert formats.is_cn_mobile("13800138000") and formats.is_cn_mobile("19912345678")
    assert not formats.is_cn_mobile("12800138000") and not formats.is_cn_mobile("1380013800")


def test_dates_times_money_email_regions_attachments():
    assert formats.is_date("2024-02-29") and not formats.is_date("2023-02-29") and not formats.is_date("20240101")
    assert formats.is_datetime("2024-03-05T09:30:00+08:00") and formats.is_datetime("2024-03-05T01:30:00Z")
    assert not formats.is_datetime("2024-03-05T09:30:00")   # no offset: ambiguous
    assert formats.to_money("12.5") == Decimal("12.50") and formats.to_money(12) == Decimal("12.00")
    assert formats.to_money(0.1) == Decimal("0.10")
    assert formats.to_money("12.345") is None and formats.to_money(True) is None and formats.to_money("1e3") is None
    assert formats.is_email("a.b@gov.cn") and not formats.is_email("a b@gov.cn") and not formats.is_email("a@b")
    assert formats.is_region_chain(["110000", "110100", "110105"])
    assert formats.is_region_chain(["440000", "440300", "440305", "440305001"])
    assert not formats.is_region_chain(["110000", "120100", "120101"])   # Tianjin's city under Beijing
    assert not formats.is_region_chain(["110000", "110100", "110200"])   # a city where a county belongs
    assert formats.is_attachment_id("65f0c0ffee0000000000abcd") and not formats.is_attachment_id("../etc/passwd")


def test_digits_of_other_scripts_are_not_digits_here():
    # Python's \d also matches ٢ (Arabic-Indic) and ０ (fullwidth): such numbers passed 身份证号 and 手机号 checks
    # (the check digit was computed over their UTF-8 bytes), and a USCC with one was a KeyError (500).
    assert formats.is_cn_id_card(ID_CARD) and ID_CARD == "11010519491231002X"
    assert not formats.is_cn_id_card("11010519491231٢02X") and not formats.is_cn_id_card("110105194912310٣2X")
    assert not formats.is_cn_uscc(USCC[:3] + "０" + USCC[4:])
    assert not formats.is_cn_mobile("138００１３８０００")
    assert not formats.is_region_code("1١٠٠٠٠")
    assert not formats.is_money("１２.５０") and not formats.is_date("٢٠٢٤-01-01")
