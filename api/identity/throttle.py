"""Growing lockout after repeated failed logins, per account and per client address.

After `login_max_failures` failures in a row an account is locked for `login_lockout_seconds`, doubling with
each further failure (capped at a day). A client address gets four times the allowance, so one address cannot
walk through many accounts. Failures older than the window are forgotten.
"""
from __future__ import annotations

import datetime as dt

from mongoengine.queryset.visitor import Q

from api.identity.models import LoginThrottle
from core import clock, db
from core.errors import TooManyRequests
from core.settings import Settings

WINDOW = dt.timedelta(minutes=30)
MAX_LOCK_SECONDS = 86400


def keys(username: str, address: str) -> list[tuple[str, int]]:
    return [(f"user:{username.strip().lower()}", 1), (f"ip:{address}", 4)]


def check(settings: Settings, username: str, address: str) -> None:
    """Raise 429 with Retry-After while the account or the address is locked."""
    now = clock.now()
    for throttle in LoginThrottle.objects(key__in=[k for k, _ in keys(username, address)]):
        if throttle.locked_until and clock.as_utc(throttle.locked_until) > now:
            wait = int((clock.as_utc(throttle.locked_until) - now).total_seconds()) + 1
            raise TooManyRequests("account_locked", retry_after=wait)


def fail(settings: Settings, username: str, address: str) -> None:
    now = clock.now()
    for key, factor in keys(username, address):
        # Forget a run of failures that ended long ago (and whose lock, which can outlast the window, ended long
        # ago too: otherwise a lock past 30 minutes would reset the count and the delay would stop growing),
        # then count this one atomically.
        quiet_since = now - WINDOW
        LoginThrottle.objects(Q(key=key) & Q(last_failure_at__lt=quiet_since)
                              & (Q(locked_until=None) | Q(locked_until__lt=quiet_since))).update_one(set__failures=0)
        throttle = db.upsert_and_read(LoginThrottle.objects(key=key), inc__failures=1, set__last_failure_at=now)
        allowance = settings.login_max_failures * factor
        if throttle.failures >= allowance:
            seconds = min(settings.login_lockout_seconds * 2 ** (throttle.failures - allowance), MAX_LOCK_SECONDS)
            LoginThrottle.objects(key=key).update_one(set__locked_until=now + dt.timedelta(seconds=seconds))


def succeed(username: str) -> None:
    LoginThrottle.objects(key=keys(username, "")[0][0]).delete()
