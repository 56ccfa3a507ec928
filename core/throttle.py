"""Brakes on floods (issue 23): fixed-window counters per account and per client address, kept in MongoDB.

A domain service calls `hit(name, account, scope=…, amount=…)` before the work a flood would multiply (a
submission, a draft, a rating, a 催办). Each call is one `find_one_and_update` upsert with `$inc` per subject — the
account, then the client address the delivery room named for this request (`set_address`) — on the document of
the current window (`_id` "<limit>|<subject>|<window start>"); its answer is the count including this call. Past
the allowance the caller gets `TooManyRequests` (429) with Retry-After: the seconds until the window ends. An
address may do `address_factor` times an account's allowance (many residents share a carrier's NAT address).
Refused calls count too (a client hammering past its 429s keeps its own window full), except that a call the
address refused is taken back from the account, which did nothing.

Windows of a day or longer start at midnight China time (core.clock.CHINA). Finished windows are dropped by
MongoDB (a TTL index on `expires_at`). The limits and their settings: README, "Limits on floods".
"""
from __future__ import annotations

import contextvars
import math
from dataclasses import dataclass
from datetime import datetime, timezone

import mongoengine as me

from core import clock, db
from core.errors import TooManyRequests

DAY = 86400
LOOKUPS_PER_HOUR = 30        # a helper's on-site records (each looks a resident up by 身份证号)


class RateCounter(me.Document):
    """One window's count for one limit and subject (written with raw operators only)."""
    id = me.StringField(primary_key=True)            # "<limit>|<account or ip:address>|<scope>|<window start>"
    n = me.IntField(default=0)
    expires_at = me.DateTimeField()                  # the window's end: MongoDB drops the document after it

    meta = {"collection": "rate_counters", "indexes": [{"fields": ["expires_at"], "expireAfterSeconds": 0}]}


@dataclass(frozen=True)
class Limit:
    count: int              # calls (or bytes, for a limit counted by `amount`) per window and account
    seconds: int            # the window
    message_key: str        # the 429's message (api/i18n.py)


def defaults(settings=None) -> dict[str, Limit]:
    """The limits, from the settings (core.settings.Settings) or their defaults."""
    from core.settings import Settings

    s = settings or Settings()
    return {
        "submissions": Limit(s.submissions_per_day, DAY, "limit.submissions"),     # per resident and service
        "drafts": Limit(s.drafts_per_day, DAY, "limit.drafts"),
        "draft_bytes": Limit(s.draft_bytes_per_day, DAY, "limit.draft_bytes"),
        "ratings": Limit(s.ratings_per_day, DAY, "limit.ratings"),
        "bad_ratings": Limit(s.bad_ratings_per_day, DAY, "limit.bad_ratings"),   # each opens a follow-up task
        "urges": Limit(s.urges_per_day, DAY, "limit.urges"),                     # 催办, across cases
        "lookups": Limit(LOOKUPS_PER_HOUR, 3600, "proxy.too_many_lookups"),      # 帮办: residents by 身份证号
    }


_limits: dict[str, Limit] = {}
_address_factor = 20
_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("zhangban_client_address", default=None)


def configure(settings) -> None:
    global _limits, _address_factor
    _limits, _address_factor = defaults(settings), settings.rate_address_factor


def limits() -> dict[str, Limit]:
    if not _limits:
        _limits.update(defaults())
    return _limits


def set_address(address: str | None) -> None:
    """The delivery room names the client address of the request being served (None outside a request)."""
    _address.set(address)


def _window(seconds: int, now: float) -> float:
    offset = clock.CHINA.utcoffset(None).total_seconds() if seconds >= DAY else 0.0
    return (now + offset) // seconds * seconds - offset


def _count(key: str, amount: int, expires_at) -> int:
    found = db.upsert_and_read_raw(RateCounter._get_collection(), {"_id": key},
                                   {"$inc": {"n": amount}, "$setOnInsert": {"expires_at": expires_at}})
    return int(found.get("n", 0))


def hit(name: str, account: str, *, scope: str = "", amount: int = 1) -> None:
    """Count `amount` toward limit `name` for the account (within `scope`, e.g. a service code) and for the
    request's client address; raise TooManyRequests with Retry-After past either allowance."""
    limit = limits()[name]
    now = clock.now()
    start = _window(limit.seconds, now.timestamp())
    expires_at = datetime.fromtimestamp(start + limit.seconds, timezone.utc)
    retry_after = max(1, math.ceil(start + limit.seconds - now.timestamp()))
    subjects = [(f"{name}|{account}|{scope}|{int(start)}", limit.count)]
    address = _address.get()
    if address:
        subjects.append((f"{name}|ip:{address}|{scope}|{int(start)}", limit.count * _address_factor))
    for done, (key, allowance) in enumerate(subjects):
        if _count(key, amount, expires_at) > allowance:
            for earlier, _ in subjects[:done]:     # refused by the address: the account did nothing
                RateCounter._get_collection().update_one({"_id": earlier}, {"$inc": {"n": -amount}})
            raise TooManyRequests(limit.message_key, retry_after=retry_after,
                                  params={"limit": limit.count, "retry_after": retry_after})

