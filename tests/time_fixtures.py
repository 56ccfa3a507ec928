"""Tests that depend on "today" set the clock instead of reading the real time: `frozen_clock` moves
`core.clock.now` (and so `china()` / `china_today()` and everything that stamps a time through them) to a chosen
instant. The app runs in-process under the Flask test client, so the requests of a test see that instant too.

The clock then ticks on from there at the real pace (a lease, a lock or an ordering by time still sees time pass);
`tick=False` stops it dead. Log people in *before* moving the clock into the past: a token is checked by PyJWT
against the real time, so one issued at a past instant has already expired.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest

from core import clock, workdays


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


def cst(*args) -> datetime:
    """A wall time in Beijing: cst(2026, 10, 9, 9, 0)."""
    return datetime(*args, tzinfo=clock.CHINA)


def write(tmp_path, doc, name="cal.json") -> str:
    """A calendar year file (or any JSON) for `zhangban calendar import`; its path."""
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.fixture
def cal(app):
    """The working-day calendar as a fresh process finds it, in an app context (the calendar room's module:
    its import check). The cache is cleared after every test that uses the app (tests/conftest.py)."""
    from workflows.cases.clock import calendar

    with app.app_context():
        workdays.clear_cache()
        yield calendar


@pytest.fixture
def frozen_clock():
    patch = pytest.MonkeyPatch()        # its own: thaw() undoes the clock and nothing else of the test
    yield FrozenClock(patch)
    patch.undo()
