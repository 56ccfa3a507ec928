"""What a resident reads of their 一件事 bundle cases: the list, and one case with each part's live status and one
timeline across departments (the parts' applications are the source of truth)."""
from __future__ import annotations

from core import db
from core.actor import Actor
from workflows.cases.applications.models import Application
from workflows.cases.bundles.models import CASE_FINAL, BundleCase


def mine(actor: Actor, case_id: str) -> BundleCase:
    """The caller's own case (without the parts' submitted data), or NotFound — for anyone else's too."""
    return db.found(BundleCase.objects.exclude("parts.data_json"), case_id, applicant_id=actor.user_id)


def list_mine(actor: Actor):
    return BundleCase.objects(applicant_id=actor.user_id).exclude("parts.data_json").order_by("-created_at")


def view(actor: Actor, case_id: str) -> dict:
    """The case with each part's live status and number, and one timeline across departments."""
    case = mine(actor, case_id)
    apps = {a.id: a for a in Application.objects(bundle_id=case.id).exclude("data_json")}
    by_part = {p.key: p for p in case.parts}
    parts, timeline = [], []
    for p in case.parts:
        app = apps.get(p.application_id)
        parts.append({"key": p.key, "service_code": p.service_code, "service_name": p.service_name,
                      "department": p.department, "depends_on": list(p.depends_on), "on_reject": p.on_reject,
                      "status": app.status if app else p.state, "application_id": str(app.id) if app else None,
                      "number": app.number if app else None, "current_steps": list(app.current_steps) if app else [],
                      "result": app.result if app else None})
        for e in (app.timeline if app else []):
            timeline.append({**_event(e), "part": p.key, "service_name": p.service_name,
                             "department": e.department or p.department})
    for e in case.timeline:
        part = by_part.get(e.part)
        timeline.append({"at": e.at, "action": e.action, "part": e.part, "comment": e.comment,
                         "actor_name": e.actor_name, "bundle": True,
                         "service_name": part.service_name if part else "", "department": part.department if part
                         else ""})
    timeline.sort(key=lambda e: e["at"])
    return {"id": str(case.id), "number": case.number, "bundle_code": case.bundle_code,
            "bundle_version": case.bundle_version, "bundle_name": case.bundle_name, "status": case.status,
            "parts": parts, "timeline": timeline, "result": {"decision": case.status, "at": case.result_at}
            if case.status in CASE_FINAL else None, "created_at": case.created_at, "updated_at": case.updated_at,
            "version": case.version,
            "withdrawable": case.status == "submitted" and case.withdrawn_at is None and withdrawable(apps.values())}


def _event(e) -> dict:
    return {"at": e.at, "action": e.action, "step": e.step, "actor_name": e.actor_name, "comment": e.comment,
            "automatic": e.automatic, "rule": e.rule, "bundle": False}


def withdrawable(parts) -> bool:
    """No part decided, and no running part acted on by its department (a withdrawn part is no obstacle)."""
    return not any(a.status in ("approved", "rejected") or (a.status in ("submitted", "returned") and a.staff_acted)
                   for a in parts)
