"""What a resident does with an application: draft, submit, follow, withdraw (撤回), supplement (补正).

Submit, in an order that leaves a recoverable state after a crash (no transactions):
1. the form data is validated against the service's published form version and the attachments must be the
   applicant's own; the process runs to its first wait in memory;
2. the instance is inserted (the source of truth), then the application — a unique index on the applicant's
   Idempotency-Key picks one winner; a loser deletes its own instance and answers with the winner's application.
   The application carries its audit record and the applicant's message (core/deferred.py: the worker moves them);
3. the inbox rows (one bulk write), the attachment read grants.
A crash after 2 leaves an application whose inbox rows `zhangban rebuild-projections` writes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from bson import ObjectId
from mongoengine.errors import NotUniqueError

from core import audit, clock, throttle
from core import deferred as deferred_records
from core.actor import Actor
from core.errors import Conflict, Invalid, NotFound, Unavailable
from forms import service as forms
from forms import validation as form_validation
from storage import service as storage
from workflows.bpmn import breaker, instances, service as processes, task_data
from workflows.cases.applications import auto_approval, case_state, cases
from workflows.cases.applications.models import FINAL, Application, Event
from workflows.cases.clock import deadlines, reminders
from workflows.bpmn.models import Instance
from workflows.cases.notify import service as notify
from workflows.cases.tasks import projection
from workflows.cases.tasks.models import HumanTask
from workflows.cases.tasks.names import staff_name

WITHDRAWABLE = ("draft", "submitted", "returned")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnBehalf:
    """帮办代办: a helper acting for the applicant under an authorisation (workflows/cases/proxy checks it)."""
    helper: Actor
    authorisation_id: str


def _who(actor: Actor, on_behalf: OnBehalf | None) -> dict:
    """The timeline's actor fields: the helper when one acts for the applicant."""
    if on_behalf:
        # named as staff are on a timeline (display name or department), never by login name
        return {"actor_id": on_behalf.helper.user_id, "actor_name": staff_name(on_behalf.helper), "on_behalf": True}
    return {"actor_id": actor.user_id, "actor_name": actor.username}


def _new_application(actor: Actor, sv, data_json: str, profile: dict | None, idempotency_key: str | None):
    body = sv.body
    return Application(applicant_id=actor.user_id, applicant_name=cases.mask_name((profile or {}).get("name")),
                       service_code=sv.code, service_version=sv.version, service_name=body.name,
                       department=sv.department, form_key=body.form_key, form_version=body.form_version,
                       data_json=data_json, idempotency_key=idempotency_key)


def _existing(actor: Actor, idempotency_key: str | None) -> Application | None:
    if not idempotency_key:
        return None
    return Application.objects(applicant_id=actor.user_id, idempotency_key=idempotency_key).first()


# -- drafts ----------------------------------------------------------------------------------------------------

def create(actor: Actor, *, service_code: str, data: dict, submit: bool, profile: dict | None = None,
           idempotency_key: str | None = None, service_version=None, bundle: tuple | None = None,
           context: dict | None = None, on_behalf: OnBehalf | None = None) -> tuple[Application, bool]:
    """A new application: saved as a draft, or submitted at once. Returns (application, created).
    A 一件事 bundle (workflows/cases/bundles) passes its pinned `service_version`, `bundle` (case id, part key) and
    `context` (process variables beside the form's, e.g. the results of the parts this one needed)."""
    existing = _existing(actor, idempotency_key)
    if existing:
        return existing, False
    sv = service_version or cases.current_service(service_code)
    app = _new_application(actor, sv, cases.dump_data(data), profile, idempotency_key)
    if bundle:
        app.bundle_id, app.bundle_part = bundle
    if on_behalf:
        app.helper_id, app.helper_name = on_behalf.helper.user_id, staff_name(on_behalf.helper)
        app.authorisation_id = on_behalf.authorisation_id
    if submit:
        return _submit(actor, app, sv, data, profile, is_new=True, context=context, on_behalf=on_behalf)
    throttle.hit("drafts", actor.user_id)                                  # 429 past the day's drafts …
    throttle.hit("draft_bytes", actor.user_id, amount=len(app.data_json.encode()))  # … or bytes
    try:
        app.save(force_insert=True)
    except NotUniqueError:
        return _existing(actor, idempotency_key), False
    audit.record(actor, "application.draft.create", "application", app.id, service=sv.code)
    return app, True


def save_draft(actor: Actor, app_id: str, expected_version: int, data: dict) -> Application:
    """Autosave from a phone: any partial data, checked only on submit."""
    app = cases.owned(actor, app_id)
    if app.status != "draft":
        raise Conflict("application.not_draft")
    data_json = cases.dump_data(data)
    throttle.hit("draft_bytes", actor.user_id, amount=len(data_json.encode()))
    if not Application.objects(id=app.id, version=expected_version, status="draft").update_one(
            set__data_json=data_json, set__updated_at=clock.now(), inc__version=1):
        raise Conflict("application.changed")
    return app.reload()


def submit_draft(actor: Actor, app_id: str, expected_version: int, profile: dict | None = None) -> Application:
    app = cases.owned(actor, app_id)
    if app.status != "draft":
        raise Conflict("application.not_draft")
    if app.version != expected_version:
        raise Conflict("application.changed")
    # a draft applies to the service as it is now (a newer version may have been published meanwhile)
    sv = cases.current_service(app.service_code)
    app.service_version, app.form_key, app.form_version = sv.version, sv.body.form_key, sv.body.form_version
    app.service_name, app.department = sv.body.name, sv.department
    return _submit(actor, app, sv, app.data, profile, is_new=False)[0]


# -- submit ----------------------------------------------------------------------------------------------------

def _submit(actor: Actor, app: Application, sv, data: dict, profile, *, is_new: bool, context: dict | None = None,
            on_behalf: OnBehalf | None = None):
    throttle.hit("submissions", actor.user_id, scope=sv.code)   # 429 past the resident's day for this service
    form_version = forms.get_published(sv.body.form_key, sv.body.form_version)
    clean = form_validation.validate(form_version, data, prefill_profile=profile)
    attachment_ids = form_validation.attachment_ids(form_version, clean)
    storage.assert_owned(actor.user_id, attachment_ids, also=on_behalf.helper.user_id if on_behalf else None)
    process_version = processes.published_version(sv.body.process_key, sv.body.process_version)
    breaker.refuse_if_open(process_version, sv.code, sv.body.name, actor)   # 503 suspended; 429 this account throttled

    if app.id is None:
        app.id = ObjectId()      # the instance names its application before either is written
    # the form's values typed as conditions compare them (money as Decimal, dates as dates: docs/bpmn.md)
    typed = task_data.typed(form_version, clean)
    decided = auto_approval.decide(actor, sv, typed)     # 秒批: decided now, no instance, no human step
    instance = None if decided else instances.start(actor, process_version, {**typed, **(context or {})},
                                                    application_id=app.id, audited_by_caller=True)
    if instance is not None and instance.status == "incident":
        Instance.objects(id=instance.id).delete()
        _tell_designers(process_version, instance.incidents[-1])
        raise Unavailable("application.service_failing", params={"service": sv.code})

    now = clock.now()
    app.number = cases.next_number(now)
    app.data_json = cases.dump_data(clean)
    app.attachments = attachment_ids
    app.status, app.submitted_at, app.updated_at, app.stats_due_at = "submitted", now, now, now
    app.instance_id = instance.id if instance else None
    # a process that ended at its first steps is the case-state writer's to end (below)
    app.instance_revision = instance.revision if instance and instance.status != "completed" else None
    # staff entering it (帮办代办 included) count as offline for the 网办率
    app.channel = "offline" if on_behalf or actor.user_id != app.applicant_id else "online"
    app.due_at = deadlines.due_at(now, sv.body.time_limit_days)
    app.remind_at = deadlines.remind_at(now, sv.body.time_limit_days)
    app.timeline = [Event(at=now, action="submitted", **_who(actor, on_behalf))]
    case = cases.case_info(app, process_version=process_version)
    rows = projection.rows(case, instance.ready) if instance else []
    app.current_steps = cases.steps_from(rows)
    if decided:
        auto_approval.apply(app, decided, now)
        if app.bundle_id:
            app.bundle_due_at = now       # its bundle moves on in the worker (workflows/cases/bundles/cases.py)
    # its audit record and the applicant's message (and a 秒批 decision's) ride in its own write (core/deferred.py)
    owed = [audit.build(
        on_behalf.helper if on_behalf else actor, "application.submit", "application", app.id,
        number=app.number, service=sv.code, service_version=sv.version,
        instance=str(instance.id) if instance else None,
        **({"on_behalf_of": actor.user_id, "authorisation": on_behalf.authorisation_id} if on_behalf else {})),
        *notify.messages("submitted", [actor.user_id], application=app, title=f"{app.service_name} 已提交",
                         body=f"办件编号 {app.number}", dedupe=f"submitted:{app.id}"),
        *(auto_approval.owed(actor, app, decided) if decided else []),
        *case_state.opened(app, rows, revision=instance.revision if instance else None)]     # who can act now
    try:
        if is_new:
            deferred_records.attach(app, owed, now)
            app.save(force_insert=True)
        elif not Application.objects(id=app.id, version=app.version, status="draft").update_one(
                inc__version=1, **{f"set__{k}": getattr(app, k) for k in _SUBMIT_FIELDS},
                **deferred_records.carry(owed, now)):
            raise Conflict("application.changed")
        else:
            app.version += 1
    except (NotUniqueError, Conflict):
        if instance is not None:
            Instance.objects(id=instance.id).delete()  # the other request won; its instance is the one
        winner = _existing(actor, app.idempotency_key) if is_new else None
        if winner is None:
            raise Conflict("application.changed") from None
        return winner, False
    if instance is not None and instance.status == "completed":
        case_state.follow(app, instance, carry_messages=True)
    elif instance is not None:
        projection.sync(case, instance.ready, (), made=rows, revision=instance.revision)
    storage.grant_read(attachment_ids, str(app.id))
    forms.remember(actor, form_version, clean)
    return app, True


_SUBMIT_FIELDS = ("number", "data_json", "attachments", "status", "instance_id", "submitted_at", "updated_at",
                  "due_at", "remind_at", "timeline", "current_steps", "service_version", "form_key", "form_version",
                  "service_name", "department", "channel", "result", "documents_due_at", "stats_due_at",
                  "instance_revision", "bundle_due_at")


# -- following, withdrawing, supplementing ---------------------------------------------------------------------

def list_mine(actor: Actor, *, status: str | None = None):
    filters = {"applicant_id": actor.user_id}
    if status:
        filters["status"] = status
    return Application.objects(**filters).exclude("data_json", "timeline", "deferred").order_by("-created_at")


def get(actor: Actor, app_id: str) -> Application:
    return cases.owned(actor, app_id)


def withdraw(actor: Actor, app_id: str, expected_version: int, *, reason: str = "") -> Application:
    """撤回: allowed until an approver has acted on the application."""
    app = cases.owned(actor, app_id)
    if app.status not in WITHDRAWABLE or app.staff_acted:
        raise Conflict("application.not_withdrawable")
    event = Event(at=clock.now(), action="withdrawn", actor_id=actor.user_id, actor_name=actor.username,
                  comment=reason)
    record = audit.build(actor, "application.withdraw", "application", app.id, reason=reason)
    # an approver who acted first, or a stale copy, wins: nothing is written then
    if not case_state.close(app, actor, status="withdrawn", event=event, owed=[record], only_if={
            "version": expected_version, "staff_acted": False, "status__in": WITHDRAWABLE}):
        raise Conflict("application.changed")
    return app.reload()


def supplement(actor: Actor, app_id: str, expected_version: int, data: dict,
               profile: dict | None = None, on_behalf: OnBehalf | None = None) -> Application:
    """补正: change only what the approver asked for, and go back to the step that waits."""
    app = cases.owned(actor, app_id)
    if app.status != "returned" or app.return_request is None:
        raise Conflict("application.not_returned")
    if app.version != expected_version:
        raise Conflict("application.changed")
    asked = {item["path"] for item in app.return_request.fields}
    old = app.data
    changed_paths = sorted(f"/{k}" for k in set(old) | set(data) if old.get(k) != data.get(k))
    refused = [p for p in changed_paths if p not in asked]
    if refused:
        raise Invalid("application.field_not_asked", errors=[
            {"path": f"/data{p}", "code": "not_asked", "message": "application.field_not_asked"} for p in refused])
    form_version = cases.form_of(app)
    clean = form_validation.validate(form_version, data, prefill_profile=profile)
    attachment_ids = form_validation.attachment_ids(form_version, clean)
    new_attachments = [a for a in attachment_ids if a not in app.attachments]
    storage.assert_owned(actor.user_id, new_attachments, also=on_behalf.helper.user_id if on_behalf else None)

    task_id = app.return_request.task_id
    instance = Instance.objects(id=app.instance_id).first()
    if instance is None:
        raise NotFound()
    typed = task_data.typed(form_version, clean)
    changes = {p[1:]: typed.get(p[1:]) for p in changed_paths}
    now = clock.now()
    # the clock stood still while the applicant corrected: the deadline moves on by the working days paused
    moved = deadlines.resume(app.paused_at, app.due_at, app.remind_at, now)
    event = Event(at=now, action="supplemented", comment=", ".join(changed_paths)[:2000],
                  paused_days=moved.paused_days, **_who(actor, on_behalf))
    steps = list(app.current_steps)
    for step in steps:
        step.due_at = moved.due_at if step.due_at == app.due_at else step.due_at
    record = audit.build(on_behalf.helper if on_behalf else actor, "application.supplement", "application", app.id,
                         fields=changed_paths, **({"on_behalf_of": actor.user_id} if on_behalf else {}))
    if not Application.objects(id=app.id, version=expected_version, status="returned").update_one(
            set__status="submitted", set__data_json=cases.dump_data(clean), set__return_request=None,
            set__attachments=list(dict.fromkeys(list(app.attachments) + new_attachments)),
            set__due_at=moved.due_at, set__remind_at=app.remind_at if app.reminded_at else moved.remind_at,
            set__paused_at=None, set__current_steps=steps, set__updated_at=now, push__timeline=event,
            inc__version=1, **deferred_records.carry([record], now)):
        raise Conflict("application.changed")
    # the application first (the lock: a retried or concurrent 补正 stops above), then the process's copy
    _amend(actor, instance, task_id, changes)
    HumanTask.objects(instance_id=app.instance_id, task_id=task_id, status="returned").update_one(
        set__status="open", set__outcome=None, set__completed_at=None, set__completed_by=None,
        inc__version=1)
    if moved.paused_days and app.due_at:    # the inbox rows that carry the service's deadline
        HumanTask.objects(application_id=app.id, due_at=app.due_at, status__in=("open", "returned")).update(
            set__due_at=moved.due_at)
    storage.grant_read(new_attachments, str(app.id))
    return app.reload()


def _tell_designers(process_version, incident) -> None:
    """A submission whose process fails at its first steps keeps nothing (the resident gets a 503); the designers
    of the process's department hear which element failed — once a day per element, not once per resident."""
    designers = reminders.people({process_version.department}, "designer").get(process_version.department, [])
    what = f"{incident.element_id or '流程'}（{incident.kind}）"
    notify.enqueue("escalated", designers, title=f"流程 {process_version.key} v{process_version.version} 启动出错",
                   body=what, dedupe=f"start-incident:{process_version.id}:{incident.element_id}:"
                                     f"{clock.china_today():%Y%m%d}")     # the China day


def _amend(actor: Actor, instance: Instance, task_id: str, changes: dict) -> None:
    """The corrected fields into the task that waits, on the instance as it is now (a timer may have moved it
    meanwhile). A step that no longer waits, or an ended process, takes nothing: the case follows its process."""
    for attempt in range(3):
        try:
            instances.amend_task_data(actor, instance, task_id, changes)
            return
        except Conflict as e:
            if e.message_key != "workflow.instance_changed" or attempt == 2:
                log.warning("supplement of instance %s not put into task %s: %s", instance.id, task_id,
                            e.message_key)
                return
            instance = Instance.objects(id=instance.id).first()
        except NotFound:
            return


def is_final(app: Application) -> bool:
    return app.status in FINAL
