"""Request and response schemas for identity. PII is masked here unless the caller may see it whole."""
from __future__ import annotations

from flask import g
from marshmallow import Schema, ValidationError, fields, post_load, validate

from api.identity.models import DEPARTMENT_LEVELS, DEPARTMENT_ROLES, GLOBAL_ROLES
from api.identity.service import readable_pii
from core import pii
from forms import formats

ID_CARD_INVALID = "Not a valid resident ID number (18 characters, a real birth date, a correct check digit)"
MOBILE_INVALID = "Not a valid mainland mobile number"


def _id_card(value: str) -> None:
    """The forms' own check (GB 11643-1999: birth date and check digit), not only the shape."""
    if not formats.is_cn_id_card(value.strip().upper()):
        raise ValidationError(ID_CARD_INVALID)


def _mobile(value: str) -> None:
    if not formats.is_cn_mobile(formats.normalize_mobile(value)):
        raise ValidationError(MOBILE_INVALID)

USERNAME = validate.Regexp(r"^[A-Za-z0-9_.@-]{3,64}$", error="3–64 letters, digits or _ . @ -")
ROLE = validate.OneOf(DEPARTMENT_ROLES + GLOBAL_ROLES)


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class WeChatLoginIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=256))


class DevLoginIn(Schema):
    openid = fields.String(required=True, validate=validate.Regexp(r"^demo-[a-z0-9-]{1,60}$"),
                           metadata={"description": "a demo resident's openid, e.g. demo-openid-resident"})


class RefreshIn(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=512))


class TokenOut(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


class PhoneCodeIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=256))


class GrantOut(Schema):
    role = fields.String()
    department_id = fields.String(allow_none=True)


def _may_see_pii(user) -> bool:
    """The owner and admins see 身份证号 and phone whole; everyone else sees them masked."""
    actor = g.get("actor")
    return actor is not None and (actor.is_admin or actor.user_id == str(user.id))


def _pii_field(name: str, context: str):
    def read(user):
        value = readable_pii(user, name, context)
        return value if _may_see_pii(user) else pii.mask(value)
    return fields.Function(read, allow_none=True)


class UserOut(Schema):
    id = fields.String()
    kind = fields.String()
    username = fields.String(allow_none=True)
    display_name = fields.String()
    real_name = fields.String()
    phone = _pii_field("phone_enc", "phone")
    id_card = _pii_field("id_card_enc", "id_card")
    roles = fields.Function(lambda u: sorted({g.role for g in u.grants}))
    grants = fields.List(fields.Nested(GrantOut))
    has_wechat = fields.Function(lambda u: bool(u.openid))
    disabled = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class GrantIn(Schema):
    role = fields.String(required=True, validate=ROLE)
    department_id = fields.String(load_default=None, allow_none=True)


class UserCreateIn(Schema):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=256))
    display_name = fields.String(load_default="", validate=validate.Length(max=100))
    real_name = fields.String(load_default="", validate=validate.Length(max=100))
    phone = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=20), _mobile])
    id_card = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=18), _id_card])
    grants = fields.List(fields.Nested(GrantIn), load_default=list, validate=validate.Length(max=50))

    @post_load
    def _normalized(self, data, **kwargs):
        """As the forms keep them: 手机号 without +86 or spaces, 身份证号 upper-cased."""
        if data.get("phone"):
            data["phone"] = formats.normalize_mobile(data["phone"])
        if data.get("id_card"):
            data["id_card"] = data["id_card"].strip().upper()
        return data


class UserListArgs(Schema):
    kind = fields.String(validate=validate.OneOf(("resident", "staff")))
    role = fields.String(validate=ROLE)
    department_id = fields.String()
    q = fields.String(validate=validate.Length(max=64), metadata={"description": "the start of the username"})
    disabled = fields.Boolean()


class RoleRevokeArgs(Schema):
    department_id = fields.String(load_default=None)


class DepartmentIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    name_en = fields.String(load_default="", validate=validate.Length(max=200))
    level = fields.String(load_default="bureau", validate=validate.OneOf(DEPARTMENT_LEVELS))
    parent_id = fields.String(load_default=None, allow_none=True)


class DepartmentPatchIn(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(validate=validate.Length(max=200))
    version = fields.Integer(load_default=None)


class DepartmentOut(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    level = fields.String()
    parent_id = fields.String(allow_none=True)
    path = fields.List(fields.String())
    created_at = fields.DateTime()
    version = fields.Integer()


class DepartmentListArgs(Schema):
    parent_id = fields.String()
    q = fields.String(validate=validate.Length(max=64))
