"""Administering departments (a tree: city → district → bureau) and users (staff accounts, role grants)."""
from __future__ import annotations

from mongoengine.errors import NotUniqueError

from api.identity.models import DEPARTMENT_ROLES, Department, RoleGrant, User
from api.identity.service import hash_password
from core import audit, clock, pii
from core.actor import Actor
from core.clock import parse_id
from core.errors import Conflict, Forbidden, Invalid, NotFound


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden()


STAFF_ROLES = frozenset({"designer", "approver", "admin"})


def require_staff(actor: Actor) -> None:
    """Staff read the department tree (designers need its codes for lanes); residents do not."""
    if not actor.roles & STAFF_ROLES:
        raise Forbidden()


def _field_error(key, path, code=None):
    return Invalid(key, errors=[{"path": path, "code": code or key, "message": key}])


# -- departments ---------------------------------------------------------------------------------------------

def get_department(actor: Actor, department_id: str) -> Department:
    require_staff(actor)
    department = Department.objects(id=parse_id(department_id)).first() if parse_id(department_id) else None
    if department is None:
        raise NotFound()
    return department


def list_departments(actor: Actor, *, parent_id=None, q=None):
    require_staff(actor)
    filters = {}
    if parent_id:
        if parse_id(parent_id) is None:
            return Department.objects.none()   # not "no parent": no department has that parent
        filters["parent_id"] = parse_id(parent_id)
    if q:
        filters["name__icontains"] = q
    return Department.objects(**filters).order_by("code")


def create_department(actor: Actor, *, code: str, name: str, name_en: str = "", level: str = "bureau",
                      parent_id: str | None = None) -> Department:
    require_admin(actor)
    parent = None
    if parent_id:
        parent = Department.objects(id=parse_id(parent_id)).first() if parse_id(parent_id) else None
        if parent is None:
            raise _field_error("not_found", "/parent_id")
    department = Department(code=code, name=name, name_en=name_en, level=level,
                            parent_id=parent.id if parent else None,
                            path=(parent.path + [parent.id]) if parent else [])
    try:
        department.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("department.code_taken", errors=[{"path": "/code", "code": "taken",
                                                         "message": "department.code_taken"}]) from None
    audit.record(actor, "department.create", "department", department.id, code=code, name=name)
    return department


def update_department(actor: Actor, department_id: str, version: int | None, **changes) -> Department:
    require_admin(actor)                      # reading is for all staff; changing is for admins
    department = get_department(actor, department_id)
    changes = {k: v for k, v in changes.items() if v is not None}
    query = {"id": department.id}
    if version is not None:
        query["version"] = version
    if not Department.objects(**query).update_one(**{f"set__{k}": v for k, v in changes.items()},
                                                  inc__version=1):
        raise Conflict("precondition_failed")
    audit.record(actor, "department.update", "department", department.id, **changes)
    return department.reload()


def department_fields(ids, field: str) -> dict:
    """{department id: its `field`} for these ids, in one query (ids that are no department's left out): the
    names other rooms show (the inbox's staff names, statistics, licences) and the ancestors 抄送 checks."""
    oids = [o for o in map(parse_id, ids) if o]
    return {str(d.id): getattr(d, field) for d in Department.objects(id__in=oids).only("id", field)} if oids else {}


def department_ids(ids) -> list:
    """Check that every id names a department; answer their ObjectIds."""
    wanted = [parse_id(i) for i in ids]
    if None in wanted or Department.objects(id__in=wanted).count() != len(set(wanted)):
        raise _field_error("not_found", "/department_id")
    return wanted


# -- users ---------------------------------------------------------------------------------------------------

def get_user(actor: Actor, user_id: str) -> User:
    require_admin(actor)
    user = User.objects(id=parse_id(user_id)).first() if parse_id(user_id) else None
    if user is None:
        raise NotFound()
    return user


def list_users(actor: Actor, *, kind=None, role=None, department_id=None, q=None, disabled=None):
    require_admin(actor)
    filters = {}
    if kind:
        filters["kind"] = kind
    if role:
        filters["grants__role"] = role
    if department_id:
        if parse_id(department_id) is None:
            return User.objects.none()   # not "no department": nobody holds a role there
        filters["grants__department_id"] = parse_id(department_id)
    if q:
        # A prefix, as a range the username index serves (icontains scanned every user; SecantusDB's index scan
        # of an anchored regex finds nothing)
        filters["username__gte"], filters["username__lt"] = q, q + "\uffff"
    if disabled is not None:
        filters["disabled"] = disabled
    return User.objects(**filters)


def create_staff(actor: Actor | None, *, username: str, password: str, display_name: str = "",
                 real_name: str = "", phone: str | None = None, id_card: str | None = None,
                 grants=()) -> User:
    """Create a staff account. `actor` None is the command line (create-admin), acting as the system."""
    if actor is not None:
        require_admin(actor)
    grant_docs = [_grant(g["role"], g.get("department_id")) for g in grants]
    cipher = pii.cipher()
    user = User(kind="staff", username=username.strip(), password_hash=hash_password(password),
                display_name=display_name or username, real_name=real_name, grants=grant_docs,
                phone_enc=cipher.encrypt(phone, context="phone"),
                phone_hash=cipher.lookup_hash(phone) if phone else None,
                id_card_enc=cipher.encrypt(id_card, context="id_card"),
                id_card_hash=cipher.lookup_hash(id_card) if id_card else None)
    try:
        user.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("user.username_taken", errors=[{"path": "/username", "code": "taken",
                                                       "message": "user.username_taken"}]) from None
    audit.record(actor, "user.create", "user", user.id, username=user.username,
                 grants=[{"role": g.role, "department_id": g.department_id} for g in grant_docs])
    return user


def _grant(role: str, department_id: str | None) -> RoleGrant:
    if role in DEPARTMENT_ROLES:
        if not department_id:
            raise _field_error("user.role_needs_department", "/department_id")
        return RoleGrant(role=role, department_id=department_ids([department_id])[0])
    if department_id:
        raise _field_error("user.role_without_department", "/department_id")
    return RoleGrant(role=role)


def grant_role(actor: Actor, user_id: str, role: str, department_id: str | None = None) -> User:
    user = get_user(actor, user_id)
    grant = _grant(role, department_id)
    # $addToSet keeps a repeated grant idempotent; the version still moves so caches see a change.
    User.objects(id=user.id).update_one(add_to_set__grants=grant, set__updated_at=clock.now(), inc__version=1)
    audit.record(actor, "user.grant_role", "user", user.id, role=role, department_id=department_id)
    return user.reload()


def revoke_role(actor: Actor, user_id: str, role: str, department_id: str | None = None) -> User:
    user = get_user(actor, user_id)
    match = {"role": role, "department_id": parse_id(department_id) if department_id else None}
    if not any(g.role == role and g.department_id == match["department_id"] for g in user.grants):
        raise NotFound()
    if role == "admin" and user.id == parse_id(actor.user_id):
        raise Conflict("user.cannot_revoke_own_admin")
    User.objects(id=user.id).update_one(pull__grants=match, set__updated_at=clock.now(), inc__version=1)
    audit.record(actor, "user.revoke_role", "user", user.id, role=role, department_id=department_id)
    return user.reload()


def set_disabled(actor: Actor, user_id: str, disabled: bool) -> User:
    from api.identity.models import LoginSession

    user = get_user(actor, user_id)
    if disabled and user.id == parse_id(actor.user_id):
        raise Conflict("user.cannot_disable_self")
    User.objects(id=user.id).update_one(set__disabled=disabled, set__updated_at=clock.now(), inc__version=1)
    if disabled:   # end every login at once; access tokens are refused from the next request on
        LoginSession.objects(user_id=user.id, revoked_at=None).update(set__revoked_at=clock.now(),
                                                                       set__revoked_reason="user disabled")
    audit.record(actor, "user.disable" if disabled else "user.enable", "user", user.id)
    return user.reload()


def list_audit(actor: Actor, **filters):
    require_admin(actor)
    audit.seal()     # chain what waits first: an admin reads records with their place in the chain
    return audit.query(**filters)
