"""Liveness and readiness."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api.errors import ErrorSchema, error_response
from api.runtime import runtime
from core import workdays
from core.db import database
from core.errors import Unavailable

blp = Blueprint("health", __name__, description="Health checks")


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.response(200)
    def get(self):
        """The process is alive"""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.response(200)
    @blp.alt_response(503, schema=ErrorSchema, description="A backing service is down; `errors` names it")
    def get(self):
        """MongoDB answers a ping (else 503). The object store's state is reported but does not fail readiness:
        most endpoints do not need it, and those that do answer 503 themselves while it is down (`status`
        "degraded"). `calendar` tells the working-day years known (imported or shipped) and whether next year's is
        official; an unofficial one does not fail readiness either."""
        try:
            database().client.admin.command("ping")
        except Exception as exc:   # any failure of the ping is "not ready", named below
            return error_response(503, "unavailable", errors=[
                {"path": "mongodb", "code": "unavailable", "message": type(exc).__name__}])
        store, available = runtime().store.name, True
        try:
            runtime().store.check()
        except Unavailable as exc:
            store, available = f"unavailable: {exc.detail or ''}".strip(), False
        workdays.refresh(quiet=True)
        return {"status": "ready" if available else "degraded", "mongodb": "ok",
                "object_store": store,
                "calendar": workdays.status(load=False)}
