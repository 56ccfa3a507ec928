"""Reminders and escalations, run by the worker each round. (Contract for the worker; the clock fills it in.)"""
from __future__ import annotations

from datetime import datetime


def scan(now: datetime | None = None) -> dict:
    """Send the reminders and escalations that are due at `now`; returns {"reminded": n, "escalated": n}."""
    return {"reminded": 0, "escalated": 0}
