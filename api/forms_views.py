"""/api/v1/forms: published forms for clients (any logged-in user): the definition, the render model,
pre-validation and prefill values. `{n}` is a version number or `latest`."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from api import forms_schemas as schemas, i18n
from api.errors import ErrorSchema
from api.http import BEARER, current_actor, current_profile
from api.runtime import settings
from core.errors import NotFound, PayloadTooLarge
from forms import messages, service

blp = Blueprint("forms", __name__, url_prefix="/api/v1/forms", description="Published forms for clients")

i18n.register({   # what these views answer with (the designer's views register the same keys: same texts)
    **messages.i18n_keys(),
    "form.invalid_data": ("表单数据未通过校验", "The form data did not pass validation"),
    "form.archived": ("该表单已归档", "This form is archived"),
})


def _number(n: str) -> int | None:
    if n == "latest":
        return None
    if n.isascii() and n.isdigit() and len(n) < 10:   # not "²" or "１": isdigit() says yes, int() fails
        return int(n)
    raise NotFound()


@blp.before_request
def _refuse_oversized():
    """A resident's /check body: 413 beyond ZHANGBAN_FORM_MAX_CHECK_BYTES, before parsing."""
    limit = settings().form_max_check_bytes
    if request.method == "POST" and request.content_length and request.content_length > limit:
        raise PayloadTooLarge("payload_too_large", params={"limit": limit})


@blp.route("/<key>/versions/<n>")
class PublishedVersion(MethodView):
    @blp.response(200, schemas.VersionOut)
    @blp.doc(security=[BEARER])
    def get(self, key, n):
        """A published form's definition (the schema as designed, and as standard JSON Schema)"""
        return service.published_for(current_actor(), key, _number(n))


@blp.route("/<key>/versions/<n>/render")
class Render(MethodView):
    @blp.response(200, schemas.RenderOut)
    @blp.doc(security=[BEARER])
    def get(self, key, n):
        """The render model: a flat, ordered component list a mini-program draws without a JSON Schema library"""
        return service.render_for(current_actor(), key, _number(n))


@blp.route("/<key>/versions/<n>/check")
class Check(MethodView):
    @blp.arguments(schemas.DataCheckIn)
    @blp.response(200, schemas.DataCheckOut)
    @blp.alt_response(422, schema=ErrorSchema,
                      description="The data does not pass: errors [{path, code, message, message_zh, message_en}]")
    @blp.alt_response(413, schema=ErrorSchema, description="The body is larger than the form limit")
    @blp.doc(security=[BEARER])
    def post(self, body, key, n):
        """Pre-validate form data exactly as a submission will be validated"""
        actor = current_actor()
        return service.check_for(actor, key, _number(n), body["data"], current_profile())


@blp.route("/<key>/versions/<n>/prefill")
class Prefill(MethodView):
    @blp.response(200, schemas.PrefillOut)
    @blp.doc(security=[BEARER])
    def get(self, key, n):
        """Starting values for you: from your profile and your earlier submissions"""
        actor = current_actor()
        return {"values": service.prefill_for(actor, key, _number(n), current_profile())}
