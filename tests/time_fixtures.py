"""Tests that depend on "today" set the clock instead of reading the real time: `frozen_clock` moves
`core.clock.now` (and so `china()` / `china_today()` and everything that stamps a time through them) to a chosen
instant. The app runs in-process under the Flask test client, so the requests of a test see that instant too.

The clock then ticks on from there at the real pace (a lease, a lock or an ordering by time still sees time pass);
`tick=False` stops it dead. Log people in *before* moving the clock into the past: a token is checked by PyJWT
against the real time, so one issued at a past instant has already expired.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from core import clock


class FrozenClock:
    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch

    def at(self, when: datetime, *, tick: bool = True) -> datetime:
        """From now on `clock.now()` answers `when` (an aware datetime; naive means UTC), ticking on unless told
        not to. Returns `when` in UTC."""
        start = clock.as_utc(when)
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        began = time.monotonic()

        def now() -> datetime:
            if not tick:
                return start
            t = start + timedelta(seconds=time.monotonic() - began)
            return t.replace(microsecond=t.microsecond // 1000 * 1000)

        self._monkeypatch.setattr(clock, "now", now)
        return start

    def china(self, wall: str, *, tick: bool = True) -> datetime:
        """Set the clock to a wall time in Beijing, "2026-06-15 07:30"; returns that instant in UTC."""
        return self.at(datetime.fromisoformat(wall).replace(tzinfo=clock.CHINA), tick=tick)

    def thaw(self) -> None:
        """Back to the real time (also done at the test's end)."""
        self._monkeypatch.undo()


@pytest.fixture
def frozen_clock():
    patch = pytest.MonkeyPatch()        # its own: thaw() undoes the clock and nothing else of the test
    yield FrozenClock(patch)
    patch.undo()
