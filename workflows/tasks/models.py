"""One row per user task of a real (not test) instance: what the inbox lists, index-backed."""
from __future__ import annotations

import mongoengine as me

from core import clock

STATUSES = ("open", "returned", "done", "cancelled")   # returned: waiting for the applicant's 补正


class HumanTask(me.Document):
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
    form_key = me.StringField(null=True)
    form_version = me.IntField(null=True)
    status = me.StringField(choices=STATUSES, default="open")
    priority = me.IntField(default=0)
    due_at = me.DateTimeField(null=True)
    created_at = me.DateTimeField(default=clock.now)
    completed_at = me.DateTimeField(null=True)
    completed_by = me.StringField(null=True)
    outcome = me.StringField(null=True)                 # approved, rejected, returned
    version = me.IntField(default=1)

    meta = {"collection": "human_tasks", "indexes": [
        {"fields": ["instance_id", "task_id"], "unique": True},
        # 待办, due-first or newest-first
        ("status", "audience", "due_at"),
        ("status", "audience", "-created_at"),
        # 已办
        ("completed_by", "-completed_at"),
        "application_id"]}
