"""What a timeline, a copy or a message calls a staff member: their display name, else their department's name —
never their login name (residents read the timeline; `demo-approver-1` tells them nothing and says too much).
Departments are identity's: the delivery room registers how ids become names (`register_department_names`), as it
registers the inbox's lane resolver."""
from __future__ import annotations

from typing import Callable

from core.actor import Actor
from core.cache import WeightedLRU

STAFF = "工作人员"        # neither a display name nor a known department
# department id → name: read once a minute per process, not on every approval (a renamed department shows within it)
NAMES = WeightedLRU("department names", max_weight=256 * 1024, weigh=lambda name: 100 + len(name), max_age=60)
_department_names: list[Callable[[set], dict]] = [lambda ids: {}]


def register_department_names(resolver: Callable[[set], dict]) -> None:
    """`resolver(ids) -> {id: name}`."""
    _department_names[0] = resolver


def department_name(department_id: str) -> str:
    if not department_id:
        return ""
    return NAMES.get(department_id, lambda: _department_names[0]({department_id}).get(department_id, ""))


def staff_name(actor: Actor, department_id: str = "") -> str:
    """The name others read for a staff member acting in `department_id` (the task's department)."""
    if actor.display_name and actor.display_name != actor.username:   # (accounts made without one repeat the login)
        return actor.display_name
    for candidate in [department_id, *(d for role in ("approver", "lead", "helper")
                                       for d in sorted(actor.department_ids(role)))]:
        name = department_name(candidate)
        if name:
            return name
    return STAFF
