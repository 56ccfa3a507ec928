"""/api/v1/attachments: upload photos, signatures and documents; read them through short-lived links."""
from __future__ import annotations

from flask import Response, redirect, request
from flask.views import MethodView
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from api import i18n
from api.attachments_schemas import AttachmentOut, ContentArgs, IdempotencyHeaders, LinkOut, UploadIn
from api.errors import ErrorSchema
from api.http import BEARER, current_actor
from api.runtime import runtime, settings
from storage import service



class _Parser(FlaskParser):
    """flask-smorest's parser plus a `multipart` location: a request's form fields and files together, so one
    schema describes (and the OpenAPI document shows) the whole multipart body."""
    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": "multipart/form-data"}


blp = _Blueprint("attachments", __name__, url_prefix="/api/v1/attachments",
                 description="Attachments: photos, signatures, documents")

i18n.register({
    "attachment.too_large": ("文件过大", "The file is too large"),
    "attachment.empty": ("文件为空", "The file is empty"),
    "attachment.bad_kind": ("附件类型应为 photo、signature 或 document",
                            "The kind must be photo, signature or document"),
    "attachment.unsupported_type": ("不支持该文件格式（按文件内容判断）",
                                    "This file format is not accepted here (judged by its content)"),
    "attachment.too_many_pixels": ("图片像素过多", "The image has too many pixels"),
    "attachment.unreadable": ("文件已损坏或无法读取", "The file is damaged or cannot be read"),
    "attachment.too_complex": ("图片结构异常（扫描段或数据段过多），请另存为普通图片后再上传",
                               "The image is built unusually (too many scans or segments); save it again as an "
                               "ordinary image and upload that"),
    "attachment.too_much_memory": ("图片解码所需内存超过上限，请缩小图片（减少像素或去掉透明通道）后再上传",
                                   "Decoding this image needs more memory than allowed; make it smaller (fewer "
                                   "pixels, or without transparency) and upload again"),
    "attachment.busy": ("正在处理的图片较多，请稍后重试", "Many images are being processed; try again shortly"),
    "attachment.signature_blank": ("签名为空或过于简单，请重新签名",
                                   "The signature is blank or too small; please sign again"),
    "attachment.idempotency_key_reused": ("该 Idempotency-Key 已用于另一个文件",
                                          "This Idempotency-Key was already used for another file"),
    "attachment.changed": ("附件已被修改，请刷新后重试", "The attachment changed; reload and try again"),
    "attachment.in_use": ("附件已被提交的申请引用，不能删除",
                          "A submitted application uses this attachment; it cannot be deleted"),
    "attachment.no_such_variant": ("该附件没有此版本", "This attachment has no such rendition"),
    "attachment.reason_required": ("查看抄送办件的原图须说明理由（会留痕）",
                                   "A copy shows the full file only with a stated reason (recorded)"),
    "attachment.not_yours": ("附件不存在或不属于申请人", "The attachment does not exist or is not the applicant's"),
    "attachment.link_invalid": ("文件链接无效", "The file link is not valid"),
    "attachment.link_expired": ("文件链接已过期，请重新获取", "The file link has expired; fetch a new one"),
    "storage.object_exists": ("文件已存在，不能覆盖", "The file exists and cannot be overwritten"),
})


@blp.before_request
def _authenticate_first():
    # Before the multipart body is parsed: an anonymous upload is a 401, not a validation error.
    if request.endpoint != "attachments.Blob":
        current_actor()


@blp.route("")
class Attachments(MethodView):
    @blp.arguments(UploadIn, location="multipart")
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.response(201, AttachmentOut, description="Stored")
    @blp.alt_response(200, schema=AttachmentOut, description="Already stored (same bytes and kind, or same key)")
    @blp.alt_response(413, schema=ErrorSchema, description="Larger than the upload limit")
    @blp.alt_response(415, schema=ErrorSchema, description="A type this kind does not take (judged by content)")
    @blp.alt_response(422, schema=ErrorSchema, description="Too many pixels, scans or memory, unreadable, or a blank signature")
    @blp.alt_response(429, schema=ErrorSchema, description="This worker is busy decoding images; see Retry-After")
    @blp.alt_response(503, schema=ErrorSchema, description="The object store is unreachable; nothing was stored")
    @blp.doc(security=[BEARER])
    def post(self, body, headers):
        """Upload a photo, an e-signature or a PDF document (multipart: `file`, `kind`)"""
        attachment, created = service.upload(current_actor(), runtime().store, settings(), kind=body["kind"],
                                             stream=body["file"].stream,
                                             idempotency_key=headers.get("idempotency_key"))
        return attachment, 201 if created else 200


@blp.route("/<attachment_id>")
class AttachmentItem(MethodView):
    @blp.response(200, AttachmentOut)
    @blp.doc(security=[BEARER])
    def get(self, attachment_id):
        """An attachment's metadata (owner, admins, and handlers of an application that uses it)"""
        return service.get(current_actor(), attachment_id)

    @blp.response(204)
    @blp.alt_response(409, schema=ErrorSchema, description="A submitted application uses it")
    @blp.doc(security=[BEARER])
    def delete(self, attachment_id):
        """Delete one's own attachment that no submitted application uses"""
        service.delete(current_actor(), runtime().store, attachment_id)


@blp.route("/<attachment_id>/content")
class AttachmentContent(MethodView):
    @blp.arguments(ContentArgs, location="query")
    @blp.response(302, description="Redirect to a link valid for at most 5 minutes")
    @blp.doc(security=[BEARER])
    def get(self, args, attachment_id):
        """The file itself: a redirect to a short-lived presigned (or app-signed) URL"""
        url = service.content_url(current_actor(), runtime().store, settings(), attachment_id, args["variant"],
                                  reason=args["reason"])
        response = redirect(url, 302)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


@blp.route("/<attachment_id>/link")
class AttachmentLink(MethodView):
    @blp.arguments(ContentArgs, location="query")
    @blp.response(200, LinkOut)
    @blp.doc(security=[BEARER])
    def get(self, args, attachment_id):
        """The same short-lived link as `/content`, as JSON: for an `<img>`, which cannot carry the bearer token"""
        url = service.content_url(current_actor(), runtime().store, settings(), attachment_id, args["variant"],
                                  reason=args["reason"])
        return {"url": url, "expires_in": min(settings().presign_seconds, 300)}


@blp.route("/blob/<token>")
class Blob(MethodView):
    @blp.response(200, description="The bytes (filesystem store only)")
    @blp.alt_response(403, schema=ErrorSchema, description="Tampered with or expired")
    def get(self, token):
        """The target of an app-signed link; the token itself is the permission"""
        data, content_type = service.open_link(runtime().store, token)
        return Response(data, mimetype=content_type, headers={
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox", "Content-Disposition": "inline",
            "Referrer-Policy": "no-referrer"})
