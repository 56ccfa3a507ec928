"""Rollup counters of applications, one document per (scope, period, department[, service]).

Every counter belongs to the day the application was submitted (China time), so each rate compares cases of one
cohort: of the applications submitted in a period, how many were submitted online, completed, completed late…
Each case movement increments nine documents with one bulk write: its day, month and year, each once for
everything (scope `all`: department and service_code ""), for the department (scope `dept`, service_code "") and
for the service (scope `svc`). A year is then one document per department or service, and a month or a day one
document for everything, whatever the number of applications.
"""
from __future__ import annotations

import mongoengine as me

HIST_MAX = 40        # handling-time histogram: one bin per working day 0..40, then `over` (more than 40)
COUNTERS = ("submitted", "online", "completed", "approved", "rejected", "withdrawn", "overdue", "first_time",
            "rated", "good", "bad", "score_sum", "days_sum")
BINS = tuple(f"d{n}" for n in range(HIST_MAX + 1)) + ("over",)


class Rollup(me.Document):
    id = me.StringField(primary_key=True)          # "<scope>|<period>|<department>|<service code>"
    scope = me.StringField(choices=("all", "dept", "svc"), required=True)
    period = me.StringField(required=True)         # "2026", "2026-11" or "2026-11-27"
    department = me.StringField(default="")          # "" for scope all
    service_code = me.StringField(default="")      # "" for the department's own documents
    service_name = me.StringField(default="")
    submitted = me.IntField(default=0)             # applications submitted (drafts never count)
    online = me.IntField(default=0)                # …by the applicant themself (网办); staff-entered ones are offline
    completed = me.IntField(default=0)             # 办结: approved or rejected
    approved = me.IntField(default=0)
    rejected = me.IntField(default=0)
    withdrawn = me.IntField(default=0)
    overdue = me.IntField(default=0)               # completed after the (补正-adjusted) deadline
    first_time = me.IntField(default=0)            # completed without 补正 (一次办成)
    rated = me.IntField(default=0)
    good = me.IntField(default=0)                  # rated 4 or 5
    bad = me.IntField(default=0)                   # rated 1 or 2
    score_sum = me.IntField(default=0)
    days_sum = me.IntField(default=0)              # handling time of the completed ones, in working days
    h = me.DictField()                             # histogram of handling days: {"d0": n, …, "d40": n, "over": n}

    # the report's filters: equalities, then the periods' $in (workflows/cases/stats/service.py `queries`)
    meta = {"collection": "stats_rollups", "indexes": [
        ("scope", "period"), ("scope", "service_code", "period"), ("scope", "department", "period"),
        ("scope", "department", "service_code", "period")]}
