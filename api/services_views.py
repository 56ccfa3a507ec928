"""/api/v1/services: the service catalogue (事项) residents browse — current versions only, for anyone logged in."""
from __future__ import annotations

from bson import ObjectId
from flask.views import MethodView
from flask_smorest import Blueprint

from api import services_schemas as schemas
from api.http import BEARER, PageArgs, current_actor, page_schema
from api.identity.models import Department
from workflows.cases.catalog import service

blp = Blueprint("services", __name__, url_prefix="/api/v1/services", description="The service catalogue (事项)")

ServicePage = page_schema(schemas.ServiceSummaryOut, "ServicePage")
SUMMARY = ("name", "name_en", "category", "time_limit_days", "fee_fen", "handling", "regions")
DETAIL = SUMMARY + ("description", "description_en", "statutory_limit_days", "materials")


def _departments(ids) -> dict:
    """Department id → {id, code, name, name_en}, in one look-up."""
    valid = [ObjectId(i) for i in set(ids) if ObjectId.is_valid(i)]
    found = Department.objects(id__in=valid).only("code", "name", "name_en") if valid else []
    return {str(d.id): {"id": str(d.id), "code": d.code, "name": d.name, "name_en": d.name_en} for d in found}


def _entry(version, departments: dict, names=SUMMARY) -> dict:
    department = departments.get(version.department) or {"id": version.department, "code": "", "name": "",
                                                          "name_en": ""}
    return {"code": version.code, "version": version.version, "department": department,
            **{name: getattr(version.body, name) for name in names}}


@blp.route("")
class Services(MethodView):
    @blp.arguments(schemas.ServiceSearchArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, ServicePage)
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """Search the current services: keyword, department, category, region; in code order"""
        current_actor()
        found = service.search(**filters, **page)
        departments = _departments(v.department for v in found["items"])
        return {**found, "items": [_entry(v, departments) for v in found["items"]]}


@blp.route("/<code>")
class Service(MethodView):
    @blp.response(200, schemas.ServiceDetailOut)
    @blp.doc(security=[BEARER])
    def get(self, code):
        """One service as residents apply for it now: materials, limits, fee, handling, regions, its form"""
        current_actor()
        version = service.get_current(code)
        body = version.body
        return {**_entry(version, _departments([version.department]), DETAIL), "published_at": version.published_at,
                "form": {"key": body.form_key, "version": body.form_version,
                         "render": f"/api/v1/forms/{body.form_key}/versions/{body.form_version}/render"}}
