"""秒批: a service's DMN decision approves or rejects a submission on the spot, without a human step.

The decision runs in the sandbox (workflows/bpmn/decisions.py) over the typed form data, as a process condition would
see it. Its first matching rule decides when its output `decision` is approve or reject; `reason` (optional)
becomes the result's reason. No matching rule, another value, or a decision that fails on this data (a cell
raising, a limit) sends the case down the human path — the failure is logged in the audit, never shown to the
resident as an error.
"""
from __future__ import annotations

from dataclasses import dataclass

from core import audit
from core.actor import Actor
from core.errors import NotFound
from workflows.bpmn import decisions, service as processes

OUTCOMES = {"approve": "approved", "approved": "approved", "reject": "rejected", "rejected": "rejected"}


@dataclass(frozen=True)
class Decided:
    outcome: str            # approved | rejected
    reason: str
    rule_id: str
    rule: str               # what the timeline shows: "rule_id (description)" or the id
    decision_id: str


def decide(actor: Actor, service_version, typed_data: dict) -> Decided | None:
    """The automatic decision for this submission, or None for the human path."""
    auto = service_version.body.auto_approval
    if auto is None:
        return None
    try:
        version = processes.published_version(auto.process_key, auto.process_version)
        result = decisions.evaluate(version, auto.decision_id, typed_data)
    except (NotFound, decisions.DecisionFailed) as e:
        audit.record(actor, "application.auto_decision_failed", "service", service_version.code,
                     decision=auto.decision_id, error=str(e)[:300] or type(e).__name__)
        return None
    outcome = OUTCOMES.get(str(result.outputs.get("decision", "")).strip().lower())
    if outcome is None or not result.rules:
        return None
    first = result.rules[0]
    label = f"{first['id']} ({first['description']})" if first["description"] else first["id"]
    return Decided(outcome=outcome, reason=str(result.outputs.get("reason") or "")[:2000], rule_id=first["id"],
                   rule=label[:500], decision_id=auto.decision_id)


def apply(app, decided: Decided, now) -> None:
    """The decision on the application about to be written: its status, result and timeline line."""
    from workflows.cases.applications.models import Event, Result

    app.status = decided.outcome
    app.due_at = app.remind_at = None
    app.result = Result(decision=decided.outcome, reason=decided.reason, at=now, automatic=True,
                        rule=decided.rule)
    app.documents_due_at = now if decided.outcome == "approved" else None
    app.timeline.append(Event(at=now, action=decided.outcome, step="秒批", actor_name="系统自动审批",
                              comment=decided.reason, automatic=True, rule=decided.rule,
                              decision_id=decided.decision_id))


def owed(actor: Actor, app, decided: Decided) -> list:
    """What the decision owes, not written: its audit record and the resident's notice (they ride in the
    application's own write, core/deferred.py)."""
    from workflows.cases.notify import service as notify

    record = audit.build(actor, "application.auto_decided", "application", app.id, number=app.number,
                         outcome=decided.outcome, decision=decided.decision_id, rule=decided.rule_id)
    return [record, *notify.messages(
        decided.outcome, [app.applicant_id], application=app,
        title=f"{app.service_name} {'已办结' if decided.outcome == 'approved' else '未通过'}",
        body=decided.reason, dedupe=f"{decided.outcome}:{app.id}")]
