"""Delivering the outbox as WeChat subscription messages (run by `zhangban worker`, each round).

A message goes out at most once. A worker takes one with a conditional write (pending, due, no live lease →
`sending` with its lease, attempts + 1), sends it, and records the outcome only while its claim still holds.
A worker that dies after the claim leaves the message in `sending`; once the lease has run out it is marked
`failed` (the send may or may not have reached WeChat) and never sent again — the in-app message remains.

What only the delivery room knows — the person's openid and WeChat itself — comes in as a `Sender`.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from core import clock
from workflows.cases.notify.models import KINDS, Notification

log = logging.getLogger(__name__)

# the message's fields a template keyword may take its value from (ZHANGBAN_WECHAT_TEMPLATES "data")
MESSAGE_FIELDS = ("title", "body", "application_number", "created_at", "kind", "from")
# a template given only by its id fills these keywords
DEFAULT_DATA = {"thing1": "title", "character_string2": "application_number", "thing3": "body",
                "time4": "created_at"}
DEFAULT_PAGES = {"application": "pages/applications/detail?id={application_id}",
                 "task": "pages/tasks/detail?id={task_id}", "none": "pages/messages/index"}
KIND_NAMES = {"submitted": "已提交", "task_assigned": "待办", "returned": "需补正", "approved": "已办结",
              "rejected": "未通过", "overdue": "已超期", "reminder": "即将到期", "cc": "抄送", "urged": "催办",
              "transferred": "转办", "delegated": "委派", "signer_added": "加签", "escalated": "超期督办",
              "grant_offered": "免申即享", "task_cancelled": "无需办理", "authorisation": "代办授权",
              "proxy_act": "帮办代办"}
# WeChat's limits on a keyword's value, by the keyword's type (its name without the number)
VALUE_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "number": 32, "letter": 32,
                "symbol": 5, "phone_number": 17, "car_number": 8, "amount": 10}
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    status: str            # sent, refused, retry, failed
    error: str = ""


class Sender(Protocol):
    def openid(self, user_id: str) -> str | None: ...
    def send(self, message: dict) -> Outcome: ...


@dataclass(frozen=True)
class Policy:
    templates: dict = field(default_factory=dict)      # kind → {template_id, page?, data?}
    max_attempts: int = 6
    backoff: timedelta = timedelta(seconds=30)
    lease: timedelta = timedelta(minutes=5)
    miniprogram_state: str = "formal"
    lang: str = "zh_CN"

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        return cls(templates=settings.wechat_templates, max_attempts=settings.notify_max_attempts,
                   backoff=timedelta(seconds=settings.notify_backoff_seconds),
                   lease=timedelta(seconds=settings.worker_lease_seconds),
                   miniprogram_state=settings.wechat_miniprogram_state)


def check_templates(templates: dict) -> None:
    """Name the first unknown kind or field in the template configuration (ValueError)."""
    for kind, entry in templates.items():
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
        for keyword, source in ((entry.get("data") if isinstance(entry, dict) else None) or {}).items():
            if source not in MESSAGE_FIELDS:
                raise ValueError(f"{kind}.data.{keyword}: unknown field {source!r} (known: {', '.join(MESSAGE_FIELDS)})")


def _value(doc: dict, source: str) -> str:
    if source == "created_at":
        return clock.china(doc["created_at"]).strftime("%Y-%m-%d %H:%M")
    if source == "kind":
        return KIND_NAMES.get(doc["kind"], doc["kind"])
    if source == "from":
        return str((doc.get("data") or {}).get("from", ""))
    return str(doc.get(source) or "")


def _fit(keyword: str, value: str) -> str:
    kind = keyword.rstrip("0123456789")
    limit = VALUE_LIMITS.get(kind)
    if limit and len(value) > limit:
        value = value[:limit - 1] + "…" if kind == "thing" else value[:limit]
    return value or "-"        # WeChat refuses an empty value


def message(doc: dict, openid: str, template: dict, policy: Policy) -> dict:
    """The body of `subscribeMessage.send` for one outbox document."""
    target = "application" if doc.get("application_id") else "task" if doc.get("task_id") else "none"
    page = template.get("page") or DEFAULT_PAGES[target]
    page = page.replace("{application_id}", doc.get("application_id") or "").replace(
        "{task_id}", doc.get("task_id") or "")
    data = {keyword: {"value": _fit(keyword, _value(doc, source))}
            for keyword, source in (template.get("data") or DEFAULT_DATA).items()}
    return {"touser": openid, "template_id": template["template_id"], "page": page, "data": data,
            "miniprogram_state": policy.miniprogram_state, "lang": policy.lang}


def release_interrupted(now: datetime) -> int:
    """Messages a dead worker left in `sending` past their lease: failed, not sent again."""
    return Notification._get_collection().update_many(
        {"wechat_status": "sending", "lease_until": {"$lt": now}},
        {"$set": {"wechat_status": "failed", "lease_until": None,
                  "last_error": "the worker stopped while sending: not sent again (it may have arrived)"}}
    ).modified_count


def deliver_due(sender: Sender | None, policy: Policy, now: datetime | None = None, limit: int = 100,
                stop=lambda: False) -> dict:
    """Deliver up to `limit` due messages; returns counts by outcome. `stop()` is asked between messages.
    `now` fixes the time (tests); by default each message's lease and retry time count from its own send."""
    fixed, now = now, now or clock.now()
    counts = {"sent": 0, "refused": 0, "retry": 0, "failed": 0, "skipped": 0, "interrupted": 0}
    counts["interrupted"] = release_interrupted(now)
    collection = Notification._get_collection()
    due = list(collection.find({"wechat_status": "pending", "next_attempt_at": clock.due_by(now),
                                "lease_until": clock.free_at(now)},
                               {"read_at": 0}).sort("next_attempt_at", 1).limit(limit))
    random.shuffle(due)     # several workers read the same page: start at different places
    for doc in due:
        if stop():
            break
        template = policy.templates.get(doc["kind"])
        template = {"template_id": template} if isinstance(template, str) else template
        openid = sender.openid(doc["user_id"]) if (template and sender is not None) else None
        if not openid:
            reason = ("no WeChat template for this kind" if not template else
                      "WeChat is not configured" if sender is None else "the person has no WeChat openid")
            if collection.update_one({"_id": doc["_id"], "wechat_status": "pending", "attempts": doc["attempts"]},
                                     {"$set": {"wechat_status": "skipped", "last_error": reason}}).modified_count:
                counts["skipped"] += 1
            continue
        at = fixed or clock.now()      # a long round must not claim with a lease that has already run out
        lease_until = at + policy.lease
        claim = {"_id": doc["_id"], "wechat_status": "pending", "attempts": doc["attempts"],
                 "lease_until": clock.free_at(at)}
        if not collection.update_one(claim, {"$set": {"wechat_status": "sending", "lease_until": lease_until},
                                             "$inc": {"attempts": 1}}).modified_count:
            continue    # another worker took it
        try:
            outcome = sender.send(message(doc, openid, template, policy))
        except Exception as e:   # noqa: BLE001 — an unexpected failure is one failed attempt, not a dead worker
            log.exception("sending notification %s", doc["_id"])
            outcome = Outcome("retry", f"{type(e).__name__}: {e}")
        attempts = doc["attempts"] + 1
        status = outcome.status
        if status == "retry" and attempts >= policy.max_attempts:
            status = "failed"
        changes = {"wechat_status": status, "lease_until": None, "last_error": outcome.error[:500]}
        if status == "sent":
            changes["sent_at"] = clock.now()
        elif status == "retry":
            changes["wechat_status"] = "pending"
            changes["next_attempt_at"] = at + min(policy.backoff * 2 ** (attempts - 1), MAX_BACKOFF)
        # only while our claim holds: a message another worker marked failed stays failed
        if collection.update_one({"_id": doc["_id"], "wechat_status": "sending", "lease_until": lease_until},
                                 {"$set": changes}).modified_count:
            counts[status] += 1
    return counts
