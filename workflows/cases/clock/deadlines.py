"""An application's legal clock: the service's commitment limit (承诺时限) in working days from submission, the
reminder point at 75 % of it, and the pause while the application waits for the applicant (补正).

Paused time is counted in whole working days: the working days after the day it was returned, up to and including
the day it was supplemented (returned and supplemented on the same day: nothing paused). The deadline and a
reminder not yet sent move on by that many working days; the inbox rows that carry the service's deadline too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import clock
from workflows.cases.clock import calendar

REMIND_SHARE = 0.75


def due_at(start: datetime, days: int) -> datetime | None:
    """The commitment deadline; None for 即办 (0 days)."""
    return calendar.add_working_days(start, days) if days and days > 0 else None


def remind_at(start: datetime, days: int) -> datetime | None:
    """When 75 % of the limit has passed (3.75 of 5 working days: three working days and 18 hours)."""
    return calendar.add_working_days(start, days * REMIND_SHARE) if days and days > 0 else None


@dataclass
class Resumed:
    paused_days: int
    due_at: datetime | None
    remind_at: datetime | None


def resume(paused_at: datetime | None, due: datetime | None, remind: datetime | None,
           now: datetime | None = None) -> Resumed:
    """The clock runs again at `now` after a pause that began at `paused_at`: the moved deadline and reminder."""
    if paused_at is None:
        return Resumed(0, due, remind)
    days = calendar.working_days_between(paused_at, now or clock.now())
    if not days:
        return Resumed(0, due, remind)
    return Resumed(days, calendar.add_working_days(due, days) if due else None,
                   calendar.add_working_days(remind, days) if remind else None)
