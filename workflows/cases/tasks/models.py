"""One row per user task of a real (not test) instance: what the inbox lists, index-backed."""
from __future__ import annotations

import mongoengine as me

from core import clock

STATUSES = ("open", "returned", "done", "cancelled")   # returned: waiting for the applicant's 补正


class HumanTask(me.Document):
    # process: a user task of the instance; rating_followup: a bad rating's follow-up (workflows/cases/ratings)
    kind = me.StringField(default="process")
    task_id = me.StringField(required=True)             # the engine's task id (a UUID)
    instance_id = me.ObjectIdField(required=True)
    application_id = me.ObjectIdField(required=True)
    application_number = me.StringField(default="")
    applicant_name = me.StringField(default="")         # masked
    service_code = me.StringField(default="")
    service_name = me.StringField(default="")
    element_id = me.StringField(default="")
    name = me.StringField(default="")
    lane = me.StringField(default="")
    candidate_departments = me.ListField(me.StringField())   # department ids whose approvers may claim it
    candidate_users = me.ListField(me.StringField())
    assignee = me.StringField(null=True)                # claimed by
    # who sees it in 待办: ["user:<id>"] once claimed, else ["dept:<id>", "user:<id>" for candidate users…] —
    # one multikey field, so "mine and my groups' unclaimed" is one indexed $in with a sort
    audience = me.ListField(me.StringField())
    # handing over without moving the process: a delegate (委派) or an added signer before me (前加签) works on
    # the task and it comes back to `hand_back_to`; an added signer after me (后加签) decides in my place
    hand_back_to = me.StringField(null=True)
    hand_kind = me.StringField(null=True, choices=("delegated", "signer_before", "signer_after"))
    # 回避: who may not act on it — the applicant and the helper who submitted for them (workflows/cases/tasks/access.py)
    recused = me.ListField(me.StringField())
    form_key = me.StringField(null=True)
    form_version = me.IntField(null=True)
    status = me.StringField(choices=STATUSES, default="open")
    priority = me.IntField(default=0)
    due_at = me.DateTimeField(null=True)
    escalated = me.BooleanField(default=False)          # overdue and escalated to the lead (the clock's red flag)
    created_at = me.DateTimeField(default=clock.now)
    completed_at = me.DateTimeField(null=True)
    completed_by = me.StringField(null=True)
    outcome = me.StringField(null=True)                 # approved, rejected, returned
    version = me.IntField(default=1)
    # the instance revision the row was last written from (workflows/cases/tasks/projection.py `sync`): an older step's
    # write never reopens or changes a row a newer step wrote
    instance_revision = me.IntField(null=True)

    meta = {"collection": "human_tasks", "indexes": [
        {"fields": ["instance_id", "task_id"], "unique": True},
        # 待办, due-first (the sort's tie-break included, or MongoDB sorts in memory) or newest-first
        ("status", "audience", "due_at", "created_at"),
        ("status", "audience", "-created_at"),
        # 已办
        ("completed_by", "-completed_at"),
        "application_id"]}


class CarbonCopy(me.Document):
    """抄送: a person given read access to an application, with read/unread (workflows/cases/tasks/copies.py)."""
    application_id = me.ObjectIdField(required=True)
    application_number = me.StringField(default="")
    service_name = me.StringField(default="")
    user_id = me.StringField(required=True)
    from_user = me.StringField(default="")
    from_name = me.StringField(default="")
    task_id = me.ObjectIdField(null=True)
    comment = me.StringField(default="", max_length=2000)
    read_at = me.DateTimeField(null=True)
    created_at = me.DateTimeField(default=clock.now)
    # read access ends then, or when the case closes, whichever is first (workflows/cases/tasks/copies.py)
    expires_at = me.DateTimeField(null=True)

    meta = {"collection": "carbon_copies", "indexes": [
        {"fields": ["application_id", "user_id"], "unique": True}, ("user_id", "-created_at")]}
