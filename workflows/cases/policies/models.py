"""Policies (a draft and its immutable published versions), residents' profile attributes, and grants."""
from __future__ import annotations

import mongoengine as me

from core import clock

PERIODS = ("once", "year", "month")      # a grant at most once ever, once a year, or once a month per person
GRANT_STATUSES = ("offered", "confirmed", "declined")


class PolicyBody(me.EmbeddedDocument):
    name = me.StringField(required=True, max_length=200)
    benefit = me.StringField(default="", max_length=2000)       # what the resident receives, in their words
    department = me.StringField(required=True)                  # the granting department's id
    dmn_xml = me.StringField(required=True)
    decision_id = me.StringField(required=True, max_length=200)
    period = me.StringField(choices=PERIODS, default="year")


class PolicyDraft(me.Document):
    """The draft a department edits (conditional writes on `version`) and which version is current."""
    code = me.StringField(required=True, unique=True, max_length=64)
    body = me.EmbeddedDocumentField(PolicyBody, required=True)
    published = me.IntField(default=0)                          # the current published version's number
    created_at = me.DateTimeField(default=clock.now)
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "policies"}


class PolicyVersion(me.Document):
    code = me.StringField(required=True)
    number = me.IntField(required=True)
    body = me.EmbeddedDocumentField(PolicyBody, required=True)
    current = me.BooleanField(default=True)
    published_at = me.DateTimeField(default=clock.now)
    published_by = me.StringField(default="")

    meta = {"collection": "policy_versions", "indexes": [
        {"fields": ["code", "number"], "unique": True}, "current"]}


class ResidentProfile(me.Document):
    """What policies decide on, kept from the population registry (人口库) by an admin import."""
    id = me.StringField(primary_key=True)                       # the resident's user id
    birth_date = me.DateField(null=True)
    district = me.StringField(default="", max_length=12)        # GB/T 2260 code where they live
    hukou = me.StringField(default="", max_length=12)           # GB/T 2260 code of the household registration
    attributes = me.DictField()                                 # further facts: {"disabled": true, …}
    updated_at = me.DateTimeField(default=clock.now)

    meta = {"collection": "resident_profiles"}


class PolicyGrant(me.Document):
    policy_code = me.StringField(required=True)
    policy_version = me.IntField(required=True)
    policy_name = me.StringField(default="")
    benefit = me.StringField(default="")
    user_id = me.StringField(required=True)
    period = me.StringField(required=True)                      # "once", "2026", "2026-11"
    status = me.StringField(choices=GRANT_STATUSES, default="offered")
    inputs = me.DictField()                                     # what the decision saw
    outputs = me.DictField()                                    # what it answered (eligible, amount, …)
    reason = me.StringField(default="", max_length=500)          # the resident's, on declining
    created_at = me.DateTimeField(default=clock.now)
    decided_at = me.DateTimeField(null=True)
    version = me.IntField(default=1)

    meta = {"collection": "grants", "indexes": [
        {"fields": ["policy_code", "user_id", "period"], "unique": True},   # never twice per person and period
        ("user_id", "-created_at")]}
