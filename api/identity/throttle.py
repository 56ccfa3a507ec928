"""Growing lockout after repeated failed logins, counted per account and address together, per address, and per
account across addresses — so that nobody can lock somebody else out.

- `pair:NAME|ADDR`: this account from this address; `login_max_failures` failures in a row lock it for
  `login_lockout_seconds`, doubling with each further failure (capped at a day).
- `ip:ADDR`: four times the allowance, so one address cannot walk through many accounts.
- `user:NAME`: twenty times the allowance, from any addresses (guessing spread over many addresses).
- `known:NAME|ADDR`: an address that signed in to this account with its password before (a known device). From
  there no lock keeps the right password out: a resident failing their approver's login from anywhere — or from
  the approver's own office address — does not stop the approver. A wrong password from it while a lock holds is
  still answered 429, so guessing there learns nothing new.
Failures older than the window are forgotten; known devices after KNOWN_DAYS without a sign-in.
"""
from __future__ import annotations

import datetime as dt


from api.identity.models import LoginThrottle
from core import clock, db
from core.errors import TooManyRequests
from core.settings import Settings

WINDOW = dt.timedelta(minutes=30)
MAX_LOCK_SECONDS = 86400
KNOWN_DAYS = 90


def _name(username: str) -> str:
    return username.strip().lower()


def keys(username: str, address: str) -> list[tuple[str, int]]:
    name = _name(username)
    return [(f"pair:{name}|{address}", 1), (f"ip:{address}", 4), (f"user:{name}", 20)]


def known_key(username: str, address: str) -> str:
    return f"known:{_name(username)}|{address}"


def check(settings: Settings, username: str, address: str) -> TooManyRequests | None:
    """Raise 429 with Retry-After while the account from this address, the address or the account is locked —
    unless the address is a known device of the account: then return the lock, and the caller lets only the right
    password through."""
    now = clock.now()
    known = known_key(username, address)
    found = {t.key: t for t in LoginThrottle.objects(key__in=[k for k, _ in keys(username, address)] + [known])}
    locks = [clock.as_utc(t.locked_until) for key, t in found.items()
             if key != known and t.locked_until and clock.as_utc(t.locked_until) > now]
    if not locks:
        return None
    error = TooManyRequests("account_locked", retry_after=int((max(locks) - now).total_seconds()) + 1)
    device = found.get(known)
    if device is not None and device.known_until and clock.as_utc(device.known_until) > now:
        return error
    raise error


def fail(settings: Settings, username: str, address: str) -> None:
    now = clock.now()
    for key, factor in keys(username, address):
        # Forget a run of failures that ended long ago (and whose lock, which can outlast the window, ended long
        # ago too: otherwise a lock past 30 minutes would reset the count and the delay would stop growing),
        # then count this one atomically.
        quiet_since = now - WINDOW
        # (no `$or` for "no lock, or one over": beside it the embedded database read every throttle row)
        LoginThrottle.objects(key=key, last_failure_at__lt=quiet_since,
                              __raw__={"locked_until": clock.free_at(quiet_since)}).update_one(set__failures=0)
        throttle = db.upsert_and_read(LoginThrottle.objects(key=key), inc__failures=1, set__last_failure_at=now)
        allowance = settings.login_max_failures * factor
        if throttle.failures >= allowance:
            seconds = min(settings.login_lockout_seconds * 2 ** (throttle.failures - allowance), MAX_LOCK_SECONDS)
            LoginThrottle.objects(key=key).update_one(set__locked_until=now + dt.timedelta(seconds=seconds))


def succeed(username: str, address: str) -> None:
    """The right password: this account's failures from this address and across addresses are forgiven, and the
    address becomes (or stays) a known device of the account."""
    pair, _, user = (key for key, _ in keys(username, address))
    LoginThrottle.objects(key__in=[pair, user]).delete()
    db.upsert_and_read(LoginThrottle.objects(key=known_key(username, address)),
                       set__known_until=clock.now() + dt.timedelta(days=KNOWN_DAYS))
