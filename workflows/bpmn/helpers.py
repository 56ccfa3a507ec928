"""Helper functions scripts and conditions may call: dates, money, 身份证号, working days.

Only functions are handed to scripts (never modules or classes), and each bounds its own work. Working days are
China's official calendar (core/workdays.py, the one the legal clock of a case counts by): read from what this
process loaded last, never from the database inside a script (the engine refreshes it before an action's CPU
budget starts, workflows/bpmn/sandbox.py `action_budget`).
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP

from core import clock, workdays

MAX_WORKING_DAYS = 3660          # ten years of working days: add_working_days() walks day by day
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _text(value, limit: int = 40) -> str:
    """Text or a number as text. Never str() of anything else: str() of a list that holds the same 100 KB
    string 100,000 times builds gigabytes, in C, beyond the sandbox's limits."""
    if type(value) is str:
        return value[:limit]
    if (type(value) is int and value.bit_length() <= 256) or type(value) in (date, datetime):
        return str(value)[:limit]
    raise ValueError("expected text or a number")


def _as_date(value) -> date:
    if type(value) is datetime:
        return clock.china(value).date() if value.tzinfo else value.date()
    if type(value) is date:
        return value
    if type(value) is str:
        return parse_date(value)
    raise ValueError(f"not a date: {value!r}")


def today() -> date:
    """Today in China (UTC+8), where the offices are."""
    return clock.china_today()


def now() -> datetime:
    return clock.now()


def make_date(year: int, month: int, day: int) -> date:
    return date(year, month, day)


def parse_date(text: str) -> date:
    """'2024-05-01' or an ISO datetime → a date."""
    text = _text(text)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


def days(n) -> timedelta:
    return timedelta(days=int(n))


def hours(n) -> timedelta:
    return timedelta(hours=float(n))


def add_days(value, n: int) -> date:
    return _as_date(value) + timedelta(days=int(n))


def add_months(value, n: int) -> date:
    start = _as_date(value)
    month_index = start.month - 1 + int(n)
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def days_between(start, end) -> int:
    return (_as_date(end) - _as_date(start)).days


def is_working_day(value) -> bool:
    """A working day in China: not a public holiday, and Monday to Friday or a 调休 working weekend day."""
    return workdays.is_working_day(_as_date(value), load=False)


def working_days(start, end) -> int:
    """Working days after `start` up to and including `end` (negative when end is earlier)."""
    return workdays.count(_as_date(start), _as_date(end), load=False)


def add_working_days(value, n: int) -> date:
    """The n-th working day after the date (before it, for a negative n)."""
    n = int(n)
    if abs(n) > MAX_WORKING_DAYS:
        raise ValueError(f"at most {MAX_WORKING_DAYS} working days")
    return workdays.add_days(_as_date(value), n, load=False)


def to_decimal(value, default=None):
    """A Decimal from a number or numeric text (floats go through their text, so 0.1 stays 0.1)."""
    try:
        if type(value) is float:
            value = repr(value)
        if type(value) is str and len(value) > 100:
            raise ValueError
        return Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        if default is not None:
            return default
        raise ValueError(f"not a number: {str(value)[:40]!r}") from None


def round_money(value, places: int = 2) -> Decimal:
    """Round half up (the way fees are rounded), to `places` decimals."""
    places = max(0, min(int(places), 10))
    return to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_int(value, default=None):
    try:
        if type(value) is str and len(value) > 100:
            raise ValueError
        return int(value)
    except (ValueError, TypeError, OverflowError):
        return default


def valid_id_number(id_no) -> bool:
    """A well-formed 18-digit 身份证号 with a correct check digit and a real birth date."""
    if type(id_no) not in (str, int):
        return False
    text = _text(id_no).strip().upper()
    if len(text) != 18 or not text[:17].isdigit():
        return False
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(text[:17], _ID_WEIGHTS)) % 11]
    if text[17] != check:
        return False
    try:
        date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    return True


def birth_date_from_id(id_no) -> date:
    text = _text(id_no).strip().upper()
    if not valid_id_number(text):
        raise ValueError("not a valid 身份证号")
    return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))


def age_from_id(id_no, on=None) -> int:
    """Age in whole years on `on` (default: today in China) from an 18-digit 身份证号."""
    born, at = birth_date_from_id(id_no), (_as_date(on) if on is not None else today())
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


def gender_from_id(id_no) -> str:
    """'male' or 'female' from the 17th digit."""
    text = _text(id_no).strip().upper()
    if not valid_id_number(text):
        raise ValueError("not a valid 身份证号")
    return "male" if int(text[16]) % 2 else "female"


HELPERS = {f.__name__: f for f in (
    today, now, make_date, parse_date, days, hours, add_days, add_months, days_between, is_working_day,
    working_days, add_working_days, to_decimal, round_money, to_int, valid_id_number, birth_date_from_id,
    age_from_id, gender_from_id)}
HELPERS["date"] = make_date
HELPERS["Decimal"] = to_decimal
