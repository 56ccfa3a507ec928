"""The app factory: settings → logging → database → object store → blueprints → error handlers."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import flask_swagger_ui
from flask import Flask, send_from_directory
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api

from api import errors, json_guard, logs, materials_views, metrics, migrations, request_guard, spa
from api.runtime import Runtime
from core import audit, db, pii, throttle
from core.settings import Settings, ensure_keys, from_env
from workflows.bpmn import quotas
from workflows.cases.tasks.copies import configure as copies_configure

SWAGGER_ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"


def create_app(config: Settings | None = None) -> Flask:
    settings = config or from_env()
    logs.configure(settings.log_level)
    settings = ensure_keys(settings)
    pii.configure(settings.pii_key)
    db.connect(settings)
    audit.configure(settings.data_dir / "audit-spool")
    # production: no lazy index builds, and a database behind this code refuses it (`zhangban migrate` first)
    migrations.prepare_process(settings)
    wire_rooms()
    quotas.configure(quotas.Policy.from_settings(settings))
    throttle.configure(settings)                 # the flood brakes' limits
    copies_configure(settings.cc_days)
    store = _build_store(settings)
    materials_views.wire()

    from api.identity.wechat import WeChatClient

    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="Zhangban 掌办 API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}},
    )
    app.json = JSONProvider(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False   # JSON_SORT_KEYS is ignored since Flask 2.3: keep keys (form fields) in order
    app.extensions["zhangban"] = Runtime(settings=settings, store=store, wechat=WeChatClient(settings))

    api = ZhangbanApi(app)
    for blueprint in _blueprints():
        api.register_blueprint(blueprint)
        # After the blueprint's own hooks (401 first, then its size limit): the guard may parse the body, and a
        # body a blueprint refuses as too large must never be parsed (app-level hooks would run before them).
        app.before_request_funcs.setdefault(blueprint.name, []).append(json_guard.refuse_unstorable_json)

    @app.get("/api/docs/assets/<path:name>")
    def swagger_assets(name):
        return send_from_directory(SWAGGER_ASSETS, name, max_age=86400)

    spa.register(app)
    logs.install(app)
    request_guard.install(app)   # after logs: 401 and size limits before any body is read
    metrics.install(app, settings)
    errors.register(app)
    return app


def wire_rooms() -> None:
    """Hooks through which domain rooms learn what only the delivery rooms know (identity stays here)."""
    from api.identity import admin
    from api.identity.models import Department
    from storage import service as storage
    from workflows.cases.clock import reminders
    from workflows.cases.ratings import service as ratings  # noqa: F401 — registers the follow-up task kind
    from workflows.cases.tasks import incidents  # noqa: F401 — registers the incident task kind
    from workflows.cases.tasks import copies, names, projection, service as tasks

    storage.register_reader(tasks.handles)
    storage.register_reader(copies.reads, limited=True)      # 抄送: thumbnails; a full file with a reason
    projection.register_lane_resolver(
        lambda codes: {d.code: str(d.id) for d in Department.objects(code__in=list(codes)).only("code", "id")})
    reminders.register_people_resolver(role_holders)
    names.register_department_names(lambda ids: admin.department_fields(ids, "name"))
    copies.register_department_ancestors(
        lambda ids: {i: [str(a) for a in path] for i, path in admin.department_fields(ids, "path").items()})


def role_holders(department_ids: set, role: str) -> dict:
    """{department id: [ids of enabled users holding `role` there]} in one query (the clock's reminders)."""
    from api.identity.models import User
    from core.clock import parse_id

    oids = [o for o in map(parse_id, department_ids) if o]
    found: dict = {}
    match = {"grants": {"$elemMatch": {"role": role, "department_id": {"$in": oids}}}}
    for user in User.objects(__raw__=match, disabled=False).only("id", "grants"):
        for grant in user.grants:
            if grant.role == role and str(grant.department_id) in department_ids:
                found.setdefault(str(grant.department_id), []).append(str(user.id))
    return found


def _build_store(settings: Settings):
    from storage.stores import build_store

    return build_store(settings)


def _blueprints():
    # One line per room's blueprint; each module holds a `blp`.
    from api import (applications_views, attachments_views, audit_views, forms_views, health, messages_views,
                     policies_views, services_views, tasks_views)
    from api import ratings_views, stats_views
    from api.identity import admin_views, views
    from designer import forms_views as designer_forms_views, process_views, services_views as designer_services

    return [health.blp, audit_views.blp, views.blp, admin_views.blp, designer_forms_views.blp, forms_views.blp,
            attachments_views.blp, process_views.blp, designer_services.blp, services_views.blp,
            applications_views.blp, tasks_views.blp, messages_views.blp, ratings_views.blp, stats_views.blp,
            materials_views.blp, policies_views.blp] + _bundle_blueprints()


def _bundle_blueprints():
    """Issue 12: 一件事 bundles (the designer's and the residents' blueprints) and 帮办代办 (helpers)."""
    from api import bundles_views, helpers_views
    from designer import bundles_views as designer_bundles

    return [designer_bundles.blp, bundles_views.blp, helpers_views.blp]


class JSONProvider(DefaultJSONProvider):
    """Dates in process data (date and datetime form fields) as ISO 8601, not Flask's HTTP-date default."""

    @staticmethod
    def default(o):
        if isinstance(o, date):     # datetime too
            return o.isoformat()
        return DefaultJSONProvider.default(o)


class ZhangbanApi(Api):
    ERROR_SCHEMA = errors.ErrorSchema
