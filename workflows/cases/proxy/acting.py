"""帮办代办: acting on a resident's behalf under an authorisation in force, and what the helper reads.

    submit_for(helper, resident, service_code=, data=, …)                 # the application is the resident's
    supplement_for(helper, resident, app_id, version, data, …)
    read_for(helper, app_id)

Every act and every read checks an active authorisation at that moment (not revoked, not expired, confirmed,
covering the service and a service of the helper's own departments), so a revocation or expiry ends both at once —
also for the cases the helper acted on. The resident is told of every act. What the helper reads is masked like any
staff member's view (workflows/cases/applications/cases.py `masked_data`), except the fields a 补正 asks them to fill.
"""
from __future__ import annotations

from core import db
from core.actor import Actor
from core.errors import Forbidden, NotFound
from workflows.cases.applications import cases, service as applications
from workflows.cases.applications.models import Application
from workflows.cases.notify import service as notify
from workflows.cases.proxy.service import in_force, require_helper
from workflows.cases.tasks.names import staff_name


class Shown:
    """An application as a helper sees it: the application, with its data masked."""

    def __init__(self, app: Application, data: dict):
        self._app, self.data = app, data

    def __getattr__(self, name):
        return getattr(self._app, name)


def _to_fill(app: Application) -> frozenset:
    """The top-level fields a returned application asks for: the ones the helper fills, shown whole."""
    if app.status != "returned" or app.return_request is None:
        return frozenset()
    return frozenset(str(item.get("path", "")).lstrip("/").split("/")[0] for item in app.return_request.fields)


def shown(app: Application) -> Shown:
    return Shown(app, cases.masked_data(cases.form_of(app), app.data, clear=_to_fill(app)))


def _tell(resident_id: str, app: Application, helper: Actor, what: str, event: str) -> None:
    notify.enqueue("proxy_act", [resident_id], application=app,
                   title=f"帮办员 {staff_name(helper)} 代您{what}：{app.service_name}",
                   body=f"办件编号 {app.number or '（草稿）'}。如非本人授权，请撤销授权并联系窗口。",
                   dedupe=f"proxy:{app.id}:{event}")


def submit_for(helper: Actor, resident: Actor, *, service_code: str, data: dict, submit: bool = True,
               profile: dict | None = None, idempotency_key: str | None = None) -> tuple[Shown, bool]:
    """The application is the resident's; the helper is recorded as who acted (application and timeline)."""
    require_helper(helper)
    sv = cases.current_service(service_code)
    doc = in_force(helper, resident.user_id, service_code, sv.department, actions=("submit",))
    app, created = applications.create(resident, service_code=service_code, data=data, submit=submit,
                                       profile=profile, idempotency_key=idempotency_key,
                                       on_behalf=applications.OnBehalf(helper, str(doc.id)))
    _tell(resident.user_id, app, helper, "提交了申请" if app.status != "draft" else "保存了草稿",
          f"{app.status}:{app.version}")
    return shown(app), created


def _unmasked(app: Application, data: dict) -> dict:
    """The helper sends back the whole data as they read it: a field they left as shown (masked) keeps its value."""
    old = app.data
    masked = cases.masked_data(cases.form_of(app), old)
    return {**data, **{k: old[k] for k, v in data.items() if k in old and v != old[k] and v == masked.get(k)}}


def supplement_for(helper: Actor, resident: Actor, app_id: str, expected_version: int, data: dict,
                   profile: dict | None = None) -> Shown:
    app = cases.owned(resident, app_id)
    doc = in_force(helper, resident.user_id, app.service_code, app.department, actions=("supplement",))
    done = applications.supplement(resident, app_id, expected_version, _unmasked(app, data), profile,
                                   on_behalf=applications.OnBehalf(helper, str(doc.id)))
    _tell(resident.user_id, done, helper, "补正了申请", f"supplement:{done.version}")
    return shown(done)


def read_for(helper: Actor, app_id: str) -> Shown:
    """An application the helper may act on now (an active authorisation for its applicant and service), masked;
    404 otherwise — a revoked or expired authorisation ends reading at once, the cases they acted on included."""
    require_helper(helper)
    app = db.found(Application, app_id)
    try:
        in_force(helper, app.applicant_id, app.service_code, app.department)
    except Forbidden:
        raise NotFound() from None
    return shown(app)
