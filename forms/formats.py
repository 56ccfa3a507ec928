"""Value formats of the form language: 身份证号, 手机号, 统一社会信用代码, email, dates, money, regions, attachments.

Each checker takes an already-trimmed string and answers True or False; `normalize_*` helpers give the stored
spelling (upper-case check characters, the bare 11-digit mobile number, money as a 2-place Decimal).
"""
from __future__ import annotations

import re
from datetime import date, datetime
from operator import mul
from decimal import Decimal, InvalidOperation

from jsonschema import FormatChecker

from core import clock

# -- 身份证号 (GB 11643-1999): 6-digit region, 8-digit birth date, 3-digit sequence, 1 check character ----------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level prefixes of GB/T 2260, plus 71/81/82 (Taiwan, Hong Kong, Macao) and 83 (their residence permits).
_ID_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                           50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
_ID_SHAPE = re.compile(r"\d{17}[\dX]\Z", re.ASCII)   # ASCII: \d would take ٢ and ０ too


_ID_OFFSET = 48 * sum(_ID_WEIGHTS)   # the weighted sum of the "0" characters' code points


def id_card_check_char(first17: str) -> str:
    # on the ASCII bytes (map(mul) runs in C): Σ (byte − 48)·w  =  Σ byte·w − 48·Σ w
    return _ID_CHECK[(sum(map(mul, first17.encode(), _ID_WEIGHTS)) - _ID_OFFSET) % 11]


def is_cn_id_card(value: str) -> bool:
    """18 characters, a real province, a real birth date (1900 … today in China: a newborn's number from 00:00
    Beijing time on its birthday), and the GB 11643 check character."""
    if len(value) != 18 or not _ID_SHAPE.match(value.upper()):
        return False
    value = value.upper()
    if int(value[:2]) not in _ID_PROVINCES:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > clock.china_today():
        return False
    return id_card_check_char(value[:17]) == value[17]


# -- 手机号: mainland mobile numbers, 1[3-9] + 9 digits; "+86"/"0086", spaces and hyphens are dropped -----------
_MOBILE = re.compile(r"1[3-9]\d{9}\Z", re.ASCII)
_MOBILE_NOISE = re.compile(r"[\s-]")


def normalize_mobile(value: str) -> str:
    bare = _MOBILE_NOISE.sub("", value)
    for prefix in ("+86", "0086"):
        if bare.startswith(prefix) and len(bare) == 11 + len(prefix):
            return bare[len(prefix):]
    return bare


def is_cn_mobile(value: str) -> bool:
    return bool(_MOBILE.match(value))


# -- 统一社会信用代码 (GB 32100-2015): 18 characters of 0-9 and A-Y without I O S V Z; the last is a check ---------
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_CHARS)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\Z", re.ASCII)


def uscc_check_char(first17: str) -> str:
    total = sum(map(mul, map(_USCC_VALUE.__getitem__, first17), _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31]


def is_cn_uscc(value: str) -> bool:
    value = value.upper()
    if len(value) != 18 or not _USCC_SHAPE.match(value):
        return False
    return uscc_check_char(value[:17]) == value[17]


# -- the rest -----------------------------------------------------------------------------------------------------
# Deliberately plain: one @, no spaces, a dotted domain. Mail delivery is the real test.
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)
_MONEY = re.compile(r"-?\d{1,13}(\.\d{1,2})?\Z", re.ASCII)
_REGION = re.compile(r"[1-9]\d{5}(\d{3}){0,2}\Z", re.ASCII)
_ATTACHMENT = re.compile(r"[0-9a-f]{24}\Z")
CENT = Decimal("0.01")


def is_email(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


def is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_datetime(value: str) -> bool:
    """RFC 3339 with a UTC offset (a time without one is ambiguous across a government's users)."""
    if not _DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def to_money(value) -> Decimal | None:
    """A money amount as a Decimal with 2 places, from a string or a JSON number; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str) or not _MONEY.match(value):
        return None
    try:
        return Decimal(value).quantize(CENT)
    except InvalidOperation:
        return None


def is_money(value: str) -> bool:
    return to_money(value) is not None


def is_region_code(value: str) -> bool:
    return bool(_REGION.match(value))


def is_region_chain(codes: list) -> bool:
    """Each code lies inside the one before it: 110000 → 110100 → 110105 (province → city → county → street)."""
    for parent, child in zip(codes, codes[1:]):
        if not (isinstance(parent, str) and isinstance(child, str)) or parent == child:
            return False
        # A province 110000 is its first 2 digits, a city 110100 its first 4; a county or street all of itself.
        keep = 2 if len(parent) == 6 and parent.endswith("0000") else \
            4 if len(parent) == 6 and parent.endswith("00") else len(parent)
        if len(child) < len(parent) or not child.startswith(parent[:keep]):
            return False
    return True


def is_attachment_id(value: str) -> bool:
    return bool(_ATTACHMENT.match(value))


CHECKERS = {
    "cn-id-card": is_cn_id_card,
    "cn-mobile": is_cn_mobile,
    "cn-uscc": is_cn_uscc,
    "email": is_email,
    "date": is_date,
    "date-time": is_datetime,
    "money": is_money,
    "region-code": is_region_code,
    "attachment-id": is_attachment_id,
}


def format_checker() -> FormatChecker:
    """The same checks for jsonschema (used for the published JSON Schema and in tests that compare with it)."""
    checker = FormatChecker(formats=())
    for name, fn in CHECKERS.items():
        checker.checks(name)(lambda value, fn=fn: not isinstance(value, str) or fn(value))
    # money may also come as a JSON number, which must have at most 2 decimal places too
    checker.checks("money")(lambda value: isinstance(value, bool) or not isinstance(value, (str, int, float))
                            or to_money(value) is not None)
    return checker
