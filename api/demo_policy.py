"""Demo data, part three: 免申即享 — two policies of 东城区民政局 and the residents they find.

- 高龄津贴 (elderly_allowance): aged 80 or more with a 东城区 household registration → 300 元 a month, granted once a
  year. The demo adds 卢桂兰 (born 1942, openid demo-openid-elder), who is granted it by the first run.
- 新市民文化惠民卡 (new_citizen_card): holding a valid 居住证 (the 电子证照 of kind `residence_permit` that an approved
  `residence-permit` application issues) → a card, granted once. 陈静 (demo-openid-resident) is granted it
  after her 居住证 is approved and the next run (`zhangban policies evaluate`, or the worker within the hour).
Running it again changes nothing that is already there (a run grants nobody twice in a period).
"""
from __future__ import annotations

from datetime import date

from api.identity.models import Department, RoleGrant, User
from core import audit
from core.actor import Actor
from workflows.cases.policies import evaluate, service as policies
from workflows.cases.policies.models import PolicyDraft, ResidentProfile

ELDER = ("demo-openid-elder", "卢桂兰", date(1942, 5, 12))


def _dmn(decision_id: str, name: str, columns: list[tuple[str, str]], rules: list[tuple[list[str], str, str]]) -> str:
    """A FIRST-hit decision table: input columns (label, expression); rules (input cells, eligible, amount)."""
    inputs = "".join(f'<input id="in_{i}" label="{label}"><inputExpression id="ex_{i}"><text>{expr}</text>'
                     f'</inputExpression></input>' for i, (label, expr) in enumerate(columns))
    body = ""
    for r, (cells, eligible, amount) in enumerate(rules):
        entries = "".join(f'<inputEntry id="r{r}_{c}"><text>{cell}</text></inputEntry>' for c, cell in enumerate(cells))
        body += (f'<rule id="rule_{r}">{entries}<outputEntry id="r{r}_ok"><text>{eligible}</text></outputEntry>'
                 f'<outputEntry id="r{r}_amount"><text>{amount}</text></outputEntry></rule>')
    return ('<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
            f'id="{decision_id}_definitions" name="{name}" namespace="http://zhangban.example/dmn">'
            f'<decision id="{decision_id}" name="{name}"><decisionTable id="{decision_id}_table" hitPolicy="FIRST">'
            f'{inputs}<output id="{decision_id}_eligible" name="eligible" /><output id="{decision_id}_amount" '
            f'name="amount" />{body}</decisionTable></decision></definitions>')


POLICIES = [
    ("elderly_allowance", "高龄津贴", "年满八十周岁的东城区户籍老人，每月发放高龄津贴 300 元，无需申请。", "year",
     _dmn("elderly_allowance", "高龄津贴", [("年龄", "age"), ("户籍", "hukou")],
          [(["&gt;= 80", '"110101"'], "True", "300"), (["-", "-"], "False", "0")])),
    ("new_citizen_card", "新市民文化惠民卡", "持有有效居住证的新市民，免申领取东城区文化惠民卡。", "once",
     _dmn("new_citizen_card", "新市民文化惠民卡", [("持有居住证", '"residence_permit" in licences')],
          [(["True"], "True", "0"), (["-"], "False", "0")])),
]


def seed(actor: Actor | None = None):
    actor = actor or Actor.system()
    civil = Department.objects(code="civil").first()
    if civil is None:
        return   # the identity demo comes first
    for code, name, benefit, period, dmn in POLICIES:
        if not PolicyDraft.objects(code=code).first():
            policies.create(actor, code=code, name=name, benefit=benefit, department=str(civil.id), dmn_xml=dmn,
                            decision_id=code, period=period)
            policies.publish(actor, code)
            yield f"policy {code} v1: {name}"
    elder = User.objects(openid=ELDER[0]).first()
    if elder is None:
        elder = User(kind="resident", openid=ELDER[0], display_name=f"居民 {ELDER[1]}", real_name=ELDER[1],
                     grants=[RoleGrant(role="resident")])
        elder.save(force_insert=True)
        audit.record(actor, "user.create_resident", "user", elder.id, demo=True)
        yield f"resident {ELDER[1]} (WeChat openid {ELDER[0]})"
    resident = User.objects(openid="demo-openid-resident").first()
    profiles = [(elder, ELDER[2], "110101")] + ([(resident, date(1990, 3, 7), "320102")] if resident else [])
    for user, born, hukou in profiles:
        if not ResidentProfile.objects(id=str(user.id)).first():
            policies.put_profile(actor, str(user.id), birth_date=born, district="110101", hukou=hukou, attributes={})
            yield f"resident profile of {user.real_name}: born {born}, 户籍 {hukou}"
    run = evaluate.evaluate(actor)
    if run.granted:
        yield f"policies evaluated: {run.granted} granted"
