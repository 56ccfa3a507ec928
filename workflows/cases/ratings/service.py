"""好差评: rate a completed application once, add one follow-up (追评), and the department's follow-up of a bad one.

A bad rating (score ≤ 2) writes, in this order: the rating (the unique index on the application picks one winner
of two racing requests), then its follow-up task in the department's inbox (its id fixed beforehand, so the
rating names it), then the rollups and the messages. A crash after the rating leaves a rating whose task is
missing; `task_for()` recreates it (the task id and its unique key are derived from the rating).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from bson import ObjectId
from mongoengine.errors import NotUniqueError

from core import audit, clock, throttle, workdays
from core.actor import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.cases.applications import cases
from workflows.cases.applications.models import Application
from workflows.cases.clock import reminders
from workflows.cases.notify import service as notify
from workflows.cases.ratings.models import BAD, Note, Rating
from workflows.cases.stats import rollups as stats
from workflows.cases.tasks import service as tasks
from workflows.cases.tasks.models import HumanTask
from workflows.cases.tasks.names import staff_name

FINISHED = ("approved", "rejected")
FOLLOW_UP_DAYS = 15        # working days the department has to follow a bad rating up
FOLLOW_UP_GRACE = timedelta(minutes=1)   # the rating's own request writes its task within this
KIND = "rating_followup"


def rate(actor: Actor, app_id: str, *, score: int, tags: list[str], comment: str) -> Rating:
    app = cases.owned(actor, app_id)
    if app.status not in FINISHED:
        raise Conflict("rating.not_finished")
    if Rating.objects(application_id=app.id).only("id").first() is not None:
        raise Conflict("rating.already_rated")     # one rating, so one follow-up task, per case (and no count)
    throttle.hit("ratings", actor.user_id)         # 429 past the resident's ratings of the day …
    if score <= BAD:
        throttle.hit("bad_ratings", actor.user_id)  # … or the bad ones, each of which opens a follow-up task
    rating = Rating(application_id=app.id, application_number=app.number or "", applicant_id=actor.user_id,
                    department=app.department, service_code=app.service_code, service_name=app.service_name,
                    score=score, tags=list(dict.fromkeys(tags)), comment=comment,
                    follow_up_task=ObjectId() if score <= BAD else None,
                    follow_up_due_at=clock.now() + FOLLOW_UP_GRACE if score <= BAD else None)
    try:
        rating.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("rating.already_rated") from None
    if rating.follow_up_task:
        task_for(rating, app)
        Rating.objects(id=rating.id).update_one(unset__follow_up_due_at=True)
    audit.record(actor, "application.rate", "application", app.id, score=score, tags=rating.tags)
    stats.rated(app, score)
    return rating


def task_for(rating: Rating, app: Application) -> HumanTask:
    """The department's follow-up task of a bad rating (written once: a repeat finds the one there)."""
    now = clock.now()
    task = HumanTask(id=rating.follow_up_task, kind=KIND, task_id=f"rating:{rating.id}",
                     instance_id=app.instance_id or app.id,
                     application_id=app.id, application_number=app.number or "", applicant_name=app.applicant_name,
                     service_code=app.service_code, service_name=app.service_name, name="差评回访",
                     candidate_departments=[app.department], audience=[f"dept:{app.department}"],
                     recused=cases.recused(app), due_at=workdays.add_working_days(now, FOLLOW_UP_DAYS), created_at=now)
    try:
        task.save(force_insert=True)
    except NotUniqueError:
        return HumanTask.objects(id=rating.follow_up_task).first()
    holders = reminders.people({app.department}, "approver").get(app.department, []) + \
        reminders.people({app.department}, "lead").get(app.department, [])
    notify.enqueue("task_assigned", holders, application=app, task_id=str(task.id),
                   title=f"差评回访：{app.service_name}", body=f"{rating.score} 分：{rating.comment}"[:2000],
                   dedupe=f"rating:{rating.id}")
    return task


def follow_ups_due(now: datetime | None = None, limit: int = 100) -> int:
    """The worker's job: the follow-up tasks of bad ratings whose request died before writing them (their due
    time passed the grace a living request needs); `task_for` is idempotent. Returns how many were written."""
    written = 0
    for rating in Rating.objects(__raw__={"follow_up_due_at": clock.due_by(now or clock.now())}).limit(limit):
        app = Application.objects(id=rating.application_id).exclude("data_json", "deferred").first()
        if app is not None:
            task_for(rating, app)
            written += 1
        Rating.objects(id=rating.id).update_one(unset__follow_up_due_at=True)
    return written


def mine(actor: Actor, app_id: str) -> Rating:
    app = cases.owned(actor, app_id)
    rating = Rating.objects(application_id=app.id).first()
    if rating is None:
        raise NotFound()
    return rating


def follow_up(actor: Actor, app_id: str, *, comment: str) -> Rating:
    """追评: one more comment after the rating, once; nothing earlier changes."""
    rating = mine(actor, app_id)
    note = Note(at=clock.now(), comment=comment, actor_id=actor.user_id, actor_name=actor.username)
    if not Rating.objects(id=rating.id, follow_up=None).update_one(set__follow_up=note, inc__version=1):
        raise Conflict("rating.follow_up_exists")
    audit.record(actor, "rating.follow_up", "rating", rating.id, application=str(rating.application_id))
    return rating.reload()


def complete_follow_up(actor: Actor, task: HumanTask, expected_version: int, *, comment: str) -> HumanTask:
    """The department closes its follow-up task with what it did (a comment, required); the resident sees it."""
    if not comment.strip():
        raise Invalid("rating.reply_required", errors=[{"path": "/comment", "code": "required",
                                                         "message": "rating.reply_required"}])
    tasks.take(actor, task, expected_version, "resolved", "done")
    reply = Note(at=clock.now(), comment=comment, actor_id=actor.user_id,
                 actor_name=staff_name(actor, task.candidate_departments[0] if task.candidate_departments else ""))
    Rating.objects(follow_up_task=task.id, reply=None).update_one(set__reply=reply, inc__version=1)
    audit.record(actor, "rating.reply", "task", task.id, application=str(task.application_id))
    return task.reload()


def for_staff(actor: Actor, *, department: str | None = None, bad_only: bool = False):
    """Ratings of the caller's departments (a lead's; an admin's: all), newest first."""
    if actor.is_admin:
        allowed = None
    else:
        allowed = sorted(actor.department_ids("lead") | actor.department_ids("approver"))
        if not allowed:
            raise Forbidden("rating.not_staff")
        if department and department not in allowed:
            raise Forbidden("rating.not_your_department")
    query = Rating.objects()
    if department:
        query = query.filter(department=department)
    elif allowed is not None:
        query = query.filter(department__in=allowed)
    if bad_only:
        query = query.filter(score__lte=BAD)
    return query


# a bad rating's follow-up is a task of its own kind: the inbox asks this room what completing and showing it mean
tasks.register_kind("rating_followup", tasks.TaskKind(
    complete=lambda actor, task, expected_version, *, decision, comment: complete_follow_up(
        actor, task, expected_version, comment=comment),
    detail=lambda task, app: {"rating": Rating.objects(application_id=app.id).first()}))
