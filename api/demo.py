"""Demo data: a city with a district and two bureaus, a designer, two approvers, an admin and a resident.

Running it again changes nothing that is already there. Demo passwords are printed; never use them in production.
"""
from __future__ import annotations

from api.identity import admin
from api.identity.models import Department, RoleGrant, User
from core import pii

DEMO_PASSWORD = "zhangban-demo-2026"

DEPARTMENTS = [  # code, name, name_en, level, parent code
    ("city", "示范市人民政府", "Demo City Government", "city", None),
    ("district-east", "示范市东城区", "East District", "district", "city"),
    ("east-civil", "东城区民政局", "East District Civil Affairs Bureau", "bureau", "district-east"),
    ("east-market", "东城区市场监督管理局", "East District Market Regulation Bureau", "bureau", "district-east"),
]

STAFF = [  # username, display name, grants (role, department code)
    ("demo-admin", "演示管理员", [("admin", None)]),
    ("demo-designer", "业务设计员 王芳", [("designer", "east-civil"), ("designer", "east-market")]),
    ("demo-approver-1", "审批人 李强", [("approver", "east-civil")]),
    ("demo-approver-2", "审批人 张敏", [("approver", "east-market")]),
]


def seed(actor=None):
    from core.actor import Actor

    actor = actor or Actor.system()
    ids = {d.code: d.id for d in Department.objects.only("code")}
    for code, name, name_en, level, parent in DEPARTMENTS:
        if code not in ids:
            created = admin.create_department(actor, code=code, name=name, name_en=name_en, level=level,
                                              parent_id=str(ids[parent]) if parent else None)
            ids[code] = created.id
            yield f"department {code}: {name}"
    for username, display_name, grants in STAFF:
        if not User.objects(username=username).first():
            admin.create_staff(actor, username=username, password=DEMO_PASSWORD, display_name=display_name,
                               grants=[{"role": r, "department_id": str(ids[d]) if d else None} for r, d in grants])
            yield f"user {username} / {DEMO_PASSWORD}: {display_name}"
    if not User.objects(openid="demo-openid-resident").first():
        cipher = pii.cipher()
        resident = User(kind="resident", openid="demo-openid-resident", display_name="居民 陈静",
                        real_name="陈静", grants=[RoleGrant(role="resident")],
                        phone_enc=cipher.encrypt("13800138000", context="phone"),
                        phone_hash=cipher.lookup_hash("13800138000"),
                        id_card_enc=cipher.encrypt("11010119900307663X", context="id_card"),
                        id_card_hash=cipher.lookup_hash("11010119900307663X"))
        resident.save(force_insert=True)
        from core import audit
        audit.record(actor, "user.create_resident", "user", resident.id, demo=True)
        yield "resident 陈静 (WeChat openid demo-openid-resident)"
