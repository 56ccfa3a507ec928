"""A year of the working-day calendar, as an operator imported it (`zhangban calendar import FILE`)."""
from __future__ import annotations

import mongoengine as me

from core import clock


class CalendarYear(me.Document):
    """Days off (放假) and weekend days that are working days (调休上班) of one year; every other Saturday and
    Sunday is a day off, every other weekday a working day. Replaced whole by each import."""
    id = me.IntField(primary_key=True)                   # the year
    holidays = me.ListField(me.DictField())              # {date: "2026-10-01", name: "国庆节"}
    workdays = me.ListField(me.DictField())              # {date: "2026-10-10", name: "国庆节调休上班"}
    source = me.StringField(default="", max_length=500)  # where the arrangement comes from (the notice)
    imported_by = me.StringField(default="")
    imported_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "calendar_years"}
