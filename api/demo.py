"""Demo data: a city with a district and three bureaus, a designer, two approvers, an admin, a resident, and the
published forms the docs/bpmn examples name (so every example uploads, publishes and runs on the demo data).

Running it again changes nothing that is already there. Demo passwords are printed; never use them in production.
"""
from __future__ import annotations

from api.identity import admin
from api.runtime import settings
from api.identity.models import Department, RoleGrant, User
from core import pii

DEMO_PASSWORD = "zhangban-demo-2026"

DEPARTMENTS = [  # code, name, name_en, level, parent code
    ("city", "示范市人民政府", "Demo City Government", "city", None),
    ("district-east", "示范市东城区", "East District", "district", "city"),
    # the codes are what BPMN lanes name: docs/bpmn/*.bpmn use "civil" and "housing"
    ("civil", "东城区民政局", "East District Civil Affairs Bureau", "bureau", "district-east"),
    ("housing", "东城区住房和城乡建设局", "East District Housing Bureau", "bureau", "district-east"),
    ("market", "东城区市场监督管理局", "East District Market Regulation Bureau", "bureau", "district-east"),
]

STAFF = [  # username, display name, grants (role, department code)
    ("demo-admin", "演示管理员", [("admin", None)]),
    ("demo-designer", "业务设计员 王芳", [("designer", "civil"), ("designer", "housing"), ("designer", "market")]),
    ("demo-approver-1", "审批人 李强", [("approver", "civil")]),
    ("demo-approver-2", "审批人 张敏", [("approver", "housing"), ("approver", "market")]),
]
DEMO_ID_CARD = "110101199003076632"   # a made-up 身份证号 with a correct check digit (GB 11643-1999)


def _text(label, **extra):
    return {"type": "string", **extra, "x-ui": {"widget": "textarea", "label": label}}


def _choice(label, options):
    return {"type": "string", "enum": [value for value, _ in options],
            "x-ui": {"widget": "radio", "label": label,
                     "options": [{"value": value, "label": text} for value, text in options]}}


# key, title, title_en, department code, schema: the forms docs/bpmn/*.bpmn name in their user tasks
FORMS = [
    # the decision is the approver's 同意/不同意, never a form field (docs/bpmn.md, "办结结果")
    ("review", "审核意见", "Review", "civil", {
        "type": "object", "properties": {
            "reason": _text({"zh-CN": "审核意见", "en": "Comment"}, maxLength=500)}}),
    ("fee_review", "费用核定", "Fee review", "civil", {
        "type": "object", "required": ["amount"], "properties": {
            "amount": {"type": "string", "minimum": 0, "maximum": 10000000,
                       "x-ui": {"widget": "money", "label": {"zh-CN": "核定金额（元）", "en": "Amount (CNY)"}}}}}),
    ("countersign", "会签意见", "Countersign", "civil", {
        "type": "object", "required": ["opinion"], "properties": {
            "opinion": _choice({"zh-CN": "会签意见", "en": "Opinion"},
                               [("approve", {"zh-CN": "同意", "en": "Approve"}),
                                ("reject", {"zh-CN": "不同意", "en": "Reject"}),
                                ("veto", {"zh-CN": "一票否决", "en": "Veto"})]),
            "comment": _text({"zh-CN": "说明", "en": "Comment"}, maxLength=500)}}),
    ("supplement", "补正材料", "Supplement", "civil", {
        "type": "object", "required": ["note"], "properties": {
            "note": _text({"zh-CN": "补正说明", "en": "What was supplemented"}, maxLength=500),
            "materials": {"type": "array", "maxItems": 10,
                          "x-ui": {"widget": "file", "label": {"zh-CN": "补正材料", "en": "Materials"}}}}}),
    ("housing_verify", "住房核查", "Housing check", "housing", {
        "type": "object", "required": ["has_housing"], "properties": {
            "has_housing": {"type": "boolean",
                            "x-ui": {"widget": "switch", "label": {"zh-CN": "名下有房产", "en": "Owns housing"}}},
            "housing_notes": _text({"zh-CN": "核查说明", "en": "Notes"}, maxLength=500)}}),
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
                        id_card_enc=cipher.encrypt(DEMO_ID_CARD, context="id_card"),
                        id_card_hash=cipher.lookup_hash(DEMO_ID_CARD))
        resident.save(force_insert=True)
        from core import audit
        audit.record(actor, "user.create_resident", "user", resident.id, demo=True)
        yield "resident 陈静 (WeChat openid demo-openid-resident)"
    yield from _forms(actor, ids)


def _forms(actor, ids):
    from forms import service as forms
    from forms.models import FormDraft

    for key, title, title_en, department, schema in FORMS:
        if FormDraft.objects(key=key).only("id").first() is None:
            forms.create_draft(actor, key=key, title=title, title_en=title_en, department=str(ids[department]),
                               schema=schema, max_bytes=settings().form_max_draft_bytes)
        if forms.latest_published_version(key, include_archived=True) is None:
            forms.publish(actor, key)
            yield f"form {key}: {title} (published)"
