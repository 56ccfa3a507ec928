"""An incident is a state of the case, not a dead end: when a step fails in the worker (a timer's script, a limit),
the case shows it and someone can act on it.

- The application is marked (`attention`) and its timeline says 办理中，工作人员正在处理 — no error text and no
  personal data for the resident; its status stays in progress.
- The department's approvers get a task of kind `incident` (the element and the kind of failure, nothing of the
  case's data in it); the designers of the process's department are told which element failed.
- Completing it: 同意 (approve) retries the step — the instance runs again at once, on the newest published
  version of its process when a designer has published a fix since and the instance fits it
  (workflows/bpmn/retry.py), else on its own; 不同意 (reject, with the reason) ends the case `rejected` with that
  reason, through the one case-state writer. A retry that fails again opens a new task.
Each is idempotent: a worker that fires the same incident twice opens one task (its id names the incident).
"""
from __future__ import annotations

from core import audit, clock
from core import deferred as deferred_records
from core.actor import Actor
from core.errors import Conflict, Invalid, NotFound
from workflows.bpmn import instances, retry
from workflows.cases.applications import case_state
from workflows.cases.applications.cases import recused as case_recused
from workflows.cases.applications.models import OPEN, Application, Event
from workflows.cases.clock import reminders
from workflows.bpmn.models import Instance
from workflows.cases.notify import service as notify
from workflows.cases.tasks import service as tasks
from workflows.cases.tasks.models import HumanTask

KIND = "incident"
SAID = "办理中，工作人员正在处理"


def opened(instance_id) -> bool:
    """The worker's hook for a step that failed: the case shows it and its department gets a task. False when
    there is no open case behind it (a test run) or the task exists already."""
    instance = Instance.objects(id=instance_id).only("id", "application_id", "incidents", "key", "department",
                                                      "status").first()
    if instance is None or instance.status != "incident" or not instance.application_id or not instance.incidents:
        return False
    app = Application.objects(id=instance.application_id, status__in=OPEN).exclude(
        "data_json", "timeline", "deferred", "stats_counted").first()
    if app is None:
        return False
    incident = instance.incidents[-1]
    task_id = f"incident:{len(instance.incidents)}"
    now = clock.now()
    row = {"kind": KIND, "task_id": task_id, "instance_id": instance.id, "application_id": app.id,
           "application_number": app.number or "", "applicant_name": app.applicant_name,
           "service_code": app.service_code, "service_name": app.service_name, "element_id": incident.element_id,
           "name": "流程异常处理", "lane": "", "candidate_departments": [app.department], "candidate_users": [],
           "assignee": None, "audience": [f"dept:{app.department}"], "status": "open", "priority": 1,
           "due_at": None, "created_at": now, "version": 1, "recused": case_recused(app)}
    inserted = HumanTask._get_collection().update_one({"instance_id": instance.id, "task_id": task_id},
                                                      {"$setOnInsert": row}, upsert=True).upserted_id
    if inserted is None:
        return False
    people = reminders.people({app.department, instance.department}, "approver")
    designers = reminders.people({instance.department}, "designer")
    what = f"{incident.element_id or '流程'}（{incident.kind}）"
    owed = [audit.build(Actor.system(), "application.incident", "application", app.id, element_id=incident.element_id,
                        kind=incident.kind, during=incident.action),
            *notify.messages("task_assigned", people.get(app.department, []), application=app, task_id=str(inserted),
                             title=f"流程异常：{app.service_name}", body=what, dedupe=f"incident:{inserted}"),
            *notify.messages("escalated", designers.get(instance.department, []), application=app,
                             title=f"流程 {instance.key} 出错", body=what, dedupe=f"incident-designers:{inserted}")]
    Application.objects(id=app.id, status__in=OPEN).update_one(
        set__attention_at=now, push__timeline=Event(at=now, action="incident", comment=SAID), inc__version=1,
        **deferred_records.carry(owed, now))
    return True


def complete(actor: Actor, task: HumanTask, expected_version: int, *, decision: str, comment: str) -> HumanTask:
    """Retry the failed step (approve) or end the case with a stated reason (reject)."""
    if decision == "reject" and not comment.strip():
        raise Invalid("task.comment_required", errors=[{"path": "/comment", "code": "required",
                                                         "message": "task.comment_required"}])
    tasks.take(actor, task, expected_version, "retried" if decision == "approve" else "rejected", "done")
    instance = Instance.objects(id=task.instance_id).first()
    app = Application.objects(id=task.application_id, status__in=OPEN).exclude("data_json", "deferred").first()
    if instance is None or app is None or instance.status != "incident":
        tasks.put_back(task)
        raise Conflict("task.incident_resolved")       # someone retried or ended it first
    now = clock.now()
    if decision == "approve":
        retried = retry.retry(instance)
        if retried is None:
            tasks.put_back(task)
            raise Conflict("task.incident_resolved")
        said = _retried_on(retried)
        Application.objects(id=app.id, status__in=OPEN).update_one(     # (a case closed meanwhile gains no line)
            set__attention_at=None, inc__version=1,
            push__timeline=tasks.event_for(actor, task, "incident_retried", "；".join(filter(None, [comment, said]))),
            **deferred_records.carry([audit.build(
                actor, "application.incident_retry", "application", app.id, on_version=retried.version,
                moved_from=retried.moved_from, missing=list(retried.missing))], now))
        return task
    ended = instances.end_rejected_by_person(actor, instance, element_id=task.element_id)
    if ended is None:
        tasks.put_back(task)
        raise Conflict("task.incident_resolved")
    case_state.follow(app, ended, took=task, event=tasks.event_for(actor, task, "rejected", comment),
                      comment=comment, decision="rejected", owed=[audit.build(
                          actor, "application.incident_end", "application", app.id, reason=comment)])
    Application.objects(id=app.id).update_one(set__attention_at=None)
    return task


def _retried_on(retried) -> str:
    """What the timeline says of the version a retry ran on (the approver's and the designers' view)."""
    if retried.moved_from is not None:
        return f"按流程第 {retried.version} 版重试（原第 {retried.moved_from} 版）"
    if retried.missing:
        return f"新版流程缺少环节 {'、'.join(retried.missing[:5])}，仍按第 {retried.version} 版重试"
    return ""


def detail(task: HumanTask, app) -> dict:
    """What the approver sees of the failure: the element and its kind (the message may quote the case's data)."""
    instance = Instance.objects(id=task.instance_id).only("incidents", "key", "process_version_number").first()
    if instance is None or not instance.incidents:
        raise NotFound()
    last = instance.incidents[-1]
    return {"incident": {"element_id": last.element_id, "kind": last.kind, "at": last.at, "during": last.action,
                         "process": f"{instance.key} v{instance.process_version_number}"}}


tasks.register_kind(KIND, tasks.TaskKind(complete=complete, detail=detail))
