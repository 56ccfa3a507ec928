"""The bundles room in a real Chromium: an official of the leading department joins three published services into
one 一件事 — picked from the catalogue, ordered by what each needs approved first — maps the fields they share onto
each service's form, sees a mismatch beside the shared field it names, fixes it and publishes."""
from __future__ import annotations

from tests.browser.conftest import require_built
from tests.browser.test_designer_forms import UNLABELLED, sign_in
from tests.bundles_fixtures import newborn  # noqa: F401 (fixture)


def _part(page, n, service, key, *, needs=(), on_reject=None):
    page.get_by_role("button", name="添加事项").click()
    part = page.get_by_role("group", name=f"组成事项 {n}")
    part.get_by_role("combobox", name=f"事项 {n}").select_option(service)
    assert part.get_by_label(f"部分标识 {n}").input_value() == service       # the key follows the service's code
    part.get_by_label(f"部分标识 {n}").fill(key)
    for other in needs:
        part.get_by_label(f"需先办结 {other}").check()
    if on_reject:
        part.get_by_label(f"不予许可时 {n}").select_option(on_reject)


def test_an_official_composes_a_bundle_maps_its_shared_fields_and_publishes_it(live_server, desktop, newborn, shot):
    from workflows.cases.bundles.models import BundleVersion
    require_built("designer/web")
    page = desktop
    sign_in(page, live_server, "health-designer")
    page.get_by_role("link", name="一件事").click()
    page.get_by_text("还没有一件事").wait_for()
    page.get_by_role("button", name="新建一件事").click()
    create = page.get_by_role("form", name="新建一件事")
    create.get_by_label("一件事编码").fill("newborn")
    create.get_by_label("名称").fill("新生儿出生一件事")
    create.get_by_role("button", name="创建").click()
    page.get_by_role("heading", level=1, name="新生儿出生一件事").wait_for()

    _part(page, 1, "birth_cert", "birth")
    _part(page, 2, "hukou_birth", "hukou", needs=["birth"])
    _part(page, 3, "baby_insurance", "insurance", on_reject="part_only")
    page.get_by_role("button", name="添加共用字段").click()
    shared = page.get_by_role("group", name="共用字段 1")
    shared.get_by_label("字段标识 1").fill("parent_id")
    shared.get_by_label("显示名称 1").fill("父母身份证号")
    shared.get_by_label("填入 出生医学证明").select_option("mother_id_card")
    shared.get_by_label("填入 出生登记").select_option("parent_id_card")
    shared.get_by_label("填入 参保登记").select_option("baby_name")        # a name where an ID card number goes

    page.get_by_role("button", name="检查").click()           # saves, then checks
    shared.locator(".error", has_text="/shared_fields/0/fields").wait_for()   # beside the shared field
    shot(page, "bundles-problem")
    shared.get_by_label("填入 参保登记").select_option("id_card")
    page.get_by_role("button", name="检查").click()
    page.get_by_role("status").get_by_text("没有问题，可以发布").wait_for()
    assert page.evaluate(UNLABELLED) == []                    # every control of the editor is labelled
    shot(page, "bundles-editor")

    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").get_by_text("已发布为第 1 版").wait_for()
    published = BundleVersion.objects.get(code="newborn", version=1)
    assert [(p.key, p.service_code, list(p.depends_on), p.on_reject, p.service_version) for p in published.body.parts] == [
        ("birth", "birth_cert", [], "fail_bundle", 1), ("hukou", "hukou_birth", ["birth"], "fail_bundle", 1),
        ("insurance", "baby_insurance", [], "part_only", 1)]
    assert [(s.key, s.label, dict(s.fields)) for s in published.body.shared_fields] == [
        ("parent_id", "父母身份证号", {"birth": "mother_id_card", "hukou": "parent_id_card", "insurance": "id_card"})]
    detail = newborn.client.get("/api/v1/bundles/newborn", headers=newborn.resident)
    assert detail.status_code == 200 and detail.json["form"]["shared"][0]["path"] == "/shared/parent_id"

    page.get_by_label("历史版本").select_option(label="第 1 版 · 当前版本")
    page.get_by_role("heading", level=1, name="第 1 版").wait_for()
    assert page.get_by_role("button", name="发布").count() == 0          # read-only
    page.get_by_role("cell", name="出生登记 (hukou_birth · 第 1 版)").wait_for()
    assert page.get_by_role("cell", name="parent_id", exact=True).is_visible()
    shot(page, "bundles-version")
