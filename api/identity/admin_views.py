"""/api/v1/departments and /api/v1/users: the admin API (every endpoint 403 for non-admins)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api.errors import ErrorSchema
from api.http import BEARER, CursorArgs, PageArgs, current_actor, cursor_schema, keyset_page, page_schema, paginate
from api.identity import admin, schemas

blp = Blueprint("admin", __name__, url_prefix="/api/v1", description="Departments and users (admins only)")

UserPage = cursor_schema(schemas.UserOut, "UserPage")
DepartmentPage = page_schema(schemas.DepartmentOut, "DepartmentPage")


@blp.route("/departments")
class Departments(MethodView):
    @blp.arguments(schemas.DepartmentListArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, DepartmentPage)
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """List departments (filter by parent, search by name); every staff member may read them"""
        return paginate(admin.list_departments(current_actor(), **filters), page)

    @blp.arguments(schemas.DepartmentIn)
    @blp.response(201, schemas.DepartmentOut)
    @blp.alt_response(409, schema=ErrorSchema, description="The code is taken")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Create a department under an optional parent"""
        return admin.create_department(current_actor(), **body)


@blp.route("/departments/<department_id>")
class DepartmentItem(MethodView):
    @blp.response(200, schemas.DepartmentOut)
    @blp.doc(security=[BEARER])
    def get(self, department_id):
        """One department (every staff member may read it; changes are for admins)"""
        return admin.get_department(current_actor(), department_id)

    @blp.arguments(schemas.DepartmentPatchIn)
    @blp.response(200, schemas.DepartmentOut)
    @blp.doc(security=[BEARER])
    def patch(self, body, department_id):
        """Rename a department (send `version` to refuse a stale edit)"""
        version = body.pop("version", None)
        return admin.update_department(current_actor(), department_id, version, **body)


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(schemas.UserListArgs, location="query")
    @blp.arguments(CursorArgs, location="query", as_kwargs=True)
    @blp.response(200, UserPage)
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """List users (by kind, role, department, username)"""
        return keyset_page(admin.list_users(current_actor(), **filters), page)

    @blp.arguments(schemas.UserCreateIn)
    @blp.response(201, schemas.UserOut)
    @blp.alt_response(409, schema=ErrorSchema, description="The username is taken")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Create a staff account, with role grants"""
        return admin.create_staff(current_actor(), **body)


@blp.route("/users/<user_id>")
class UserItem(MethodView):
    @blp.response(200, schemas.UserOut)
    @blp.doc(security=[BEARER])
    def get(self, user_id):
        """One user"""
        return admin.get_user(current_actor(), user_id)


@blp.route("/users/<user_id>/roles")
class UserRoles(MethodView):
    @blp.arguments(schemas.GrantIn)
    @blp.response(200, schemas.UserOut)
    @blp.doc(security=[BEARER])
    def post(self, body, user_id):
        """Grant a role (designer, approver and lead per department)"""
        return admin.grant_role(current_actor(), user_id, body["role"], body["department_id"])


@blp.route("/users/<user_id>/roles/<role>")
class UserRoleItem(MethodView):
    @blp.arguments(schemas.RoleRevokeArgs, location="query")
    @blp.response(200, schemas.UserOut)
    @blp.doc(security=[BEARER])
    def delete(self, args, user_id, role):
        """Revoke a role (name the department for designer, approver and lead)"""
        return admin.revoke_role(current_actor(), user_id, role, args["department_id"])


@blp.route("/users/<user_id>/disable")
class UserDisable(MethodView):
    @blp.response(200, schemas.UserOut)
    @blp.doc(security=[BEARER])
    def post(self, user_id):
        """Disable an account: its logins end at once"""
        return admin.set_disabled(current_actor(), user_id, True)


@blp.route("/users/<user_id>/enable")
class UserEnable(MethodView):
    @blp.response(200, schemas.UserOut)
    @blp.doc(security=[BEARER])
    def post(self, user_id):
        """Enable a disabled account"""
        return admin.set_disabled(current_actor(), user_id, False)
