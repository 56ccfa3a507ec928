"""/api/v1/materials (一人一档: a resident's own file) and /api/v1/licences (电子证照: verify, revoke)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, current_actor
from api.runtime import runtime
from core.errors import NotFound
from workflows.cases.materials import results, service
from workflows.cases.materials.service import status_of

blp = Blueprint("materials", __name__, url_prefix="/api/v1",
                description="一人一档: materials kept once; 电子证照: issued results, verified by number and hash")

i18n.register({
    "material.already_filed": ("该附件已在个人档案中", "This attachment is already in your file"),
    "material.changed": ("材料已被修改，请刷新后重试", "The material changed; reload and try again"),
    "material.already_revoked": ("该证照已被注销", "This licence is already revoked"),
    "material.bad_kind": ("材料类型应为字母开头的字母、数字或下划线",
                          "The kind is letters, digits and underscores, starting with a letter"),
})

KIND = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9_]{0,63}$"),
                     metadata={"description": "the kind a form asks for with `x-prefill: material.<kind>`"})


class ResidentMaterialOut(Schema):
    id = fields.String()
    kind = fields.String()
    name = fields.String()
    source = fields.String(metadata={"description": "upload | licence (an issued result)"})
    attachment_id = fields.String(metadata={"description": "attach this id to a form field; read it through "
                                                           "/api/v1/attachments/{id}/content"})
    status = fields.Function(lambda m: status_of(m), metadata={"description": "valid | expired | revoked"})
    form_key = fields.String()
    application_id = fields.String()
    application_number = fields.String()
    number = fields.String(allow_none=True)
    issuer_id = fields.String()
    issuer_name = fields.String()
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True, metadata={"description": "none: long-term (长期)"})
    revoked_reason = fields.String()
    content_hash = fields.String(metadata={"description": "a licence's printed hash (sha256)"})
    created_at = fields.DateTime()
    version = fields.Integer()


class ResidentMaterialIn(Schema):
    attachment_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = KIND
    name = fields.String(load_default="", validate=validate.Length(max=200))
    valid_until = fields.Date(load_default=None, allow_none=True)


class MaterialListArgs(Schema):
    kind = fields.String(load_default=None, validate=validate.Length(max=64))
    usable = fields.Boolean(load_default=False, metadata={"description": "only valid ones (what forms are offered)"})


class MaterialDeleteArgs(Schema):
    version = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2 ** 62))


class ProvenanceOut(Schema):
    attachment_id = fields.String()
    status = fields.String(allow_none=True)
    material = fields.Nested(ResidentMaterialOut, allow_none=True,
                             metadata={"description": "where it came from; null for a file uploaded for this form"})


class LicenceRevokeIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class LicenceVerifyArgs(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    hash = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"),
                         metadata={"description": "the SHA-256 printed on the document"})


class LicenceVerifyOut(Schema):
    valid = fields.Boolean()
    number = fields.String()
    status = fields.String(metadata={"description": "valid | expired | revoked"})
    reason = fields.String(allow_none=True, metadata={"description": "no_match, file_changed, expired, revoked"})
    file_intact = fields.Boolean()
    kind = fields.String()
    name = fields.String()
    issuer_name = fields.String()
    holder_name = fields.String(metadata={"description": "masked"})
    issued_at = fields.DateTime()
    valid_until = fields.Date(allow_none=True)
    revoked_reason = fields.String(allow_none=True)


class DepartmentSealIn(Schema):
    attachment_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


SealOut = Schema.from_dict({"department_id": fields.String(attribute="id"), "attachment_id": fields.String(),
                            "updated_at": fields.DateTime()}, name="SealOut")


@blp.route("/materials")
class Materials(MethodView):
    @blp.arguments(MaterialListArgs, location="query")
    @blp.response(200, ResidentMaterialOut(many=True))
    @blp.doc(security=[BEARER])
    def get(self, args):
        """My materials and licences, newest first (`usable=true`: only those forms are offered)"""
        return service.list_mine(current_actor(), kind=args["kind"], usable=args["usable"])

    @blp.arguments(ResidentMaterialIn)
    @blp.response(201, ResidentMaterialOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Already in my file")
    @blp.alt_response(422, schema=ErrorSchema, description="Not an attachment of mine")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """File one of my uploads under a kind, with its validity (e.g. a scanned 户口簿)"""
        return service.file_upload(current_actor(), **body)


@blp.route("/materials/<material_id>")
class MaterialItem(MethodView):
    @blp.response(200, ResidentMaterialOut)
    @blp.doc(security=[BEARER])
    def get(self, material_id):
        """One of my materials"""
        return service.get(current_actor(), material_id)

    @blp.arguments(MaterialDeleteArgs, location="query")
    @blp.response(204)
    @blp.alt_response(409, schema=ErrorSchema, description="Changed meanwhile (send the version you read)")
    @blp.doc(security=[BEARER])
    def delete(self, args, material_id):
        """Take a material out of my file (an upload no application uses is deleted; others stay with it)"""
        service.delete(current_actor(), runtime().store, material_id, args["version"])


@blp.route("/materials/of-application/<application_id>")
class OfApplication(MethodView):
    @blp.response(200, ProvenanceOut(many=True))
    @blp.alt_response(404, schema=ErrorSchema, description="Not an application you may read")
    @blp.doc(security=[BEARER])
    def get(self, application_id):
        """An application's attachments and where each came from (the applicant, its handlers, admins)"""
        return service.of_application(current_actor(), application_id)


@blp.route("/materials/seals/<department_id>")
class DepartmentSeal(MethodView):
    @blp.arguments(DepartmentSealIn)
    @blp.response(200, SealOut)
    @blp.alt_response(403, schema=ErrorSchema, description="Admins only")
    @blp.doc(security=[BEARER])
    def put(self, body, department_id):
        """Set the seal image printed on the results a department issues (admins; an image you uploaded)"""
        from api.identity.models import Department
        from core.clock import parse_id

        actor = current_actor()
        oid = parse_id(department_id)
        if not actor.is_admin or oid is None or not Department.objects(id=oid).only("id").first():
            raise NotFound()
        return results.set_seal(actor, department_id, body["attachment_id"])


@blp.route("/licences/verify")
class Verify(MethodView):
    @blp.arguments(LicenceVerifyArgs, location="query")
    @blp.response(200, LicenceVerifyOut)
    def get(self, args):
        """Check an electronic result by its number and the hash printed on it (no login needed)"""
        return service.verify(runtime().store, args["number"], args["hash"])


@blp.route("/licences/<number>/revoke")
class Revoke(MethodView):
    @blp.arguments(LicenceRevokeIn)
    @blp.response(200, ResidentMaterialOut)
    @blp.alt_response(404, schema=ErrorSchema, description="No such licence, or not the issuing department's")
    @blp.alt_response(409, schema=ErrorSchema, description="Already revoked")
    @blp.doc(security=[BEARER])
    def post(self, body, number):
        """Revoke a licence (the issuing department's approvers and leads, admins): it is offered no more"""
        return service.revoke(current_actor(), number, body["reason"])


def wire() -> None:
    """Hooks of the materials room (called by the app factory): forms offer and file materials, identity names
    the issuing departments. (The worker makes the results: api/cli.py `scheduled_jobs`.)"""
    from forms import prefill

    prefill.register_source("material", service.offer, service.keep)
    results.register_verified_names(_verified_name)


def _verified_name(user_id: str) -> str | None:
    from api.identity.models import User
    from core.clock import parse_id

    oid = parse_id(user_id)
    user = User.objects(id=oid, kind="resident").only("real_name").first() if oid else None
    return (user.real_name or None) if user else None

