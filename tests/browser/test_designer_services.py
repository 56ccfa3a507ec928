"""The services room in a real Chromium: an official creates a service (事项) bound to a published form and process,
edits its materials, time limits and regions, sees a problem beside the field it names, fixes it and publishes."""
from __future__ import annotations

from tests.browser.conftest import require_built
from tests.browser.test_designer_forms import UNLABELLED, sign_in
from tests.services_fixtures import publish_form
from tests.workflows_fixtures import civil_designer, forms, publish_example  # noqa: F401 (fixtures)
from workflows.cases.catalog.models import ServiceVersion


def test_an_official_edits_and_publishes_a_service(live_server, desktop, civil_designer, forms, department, client,
                                                  shot):
    require_built("designer/web")
    headers = civil_designer
    publish_form(client, headers, department["id"])                      # residence v1: has an id_photo
    publish_example(client, headers, department["id"], "user_task_form")
    page = desktop
    sign_in(page, live_server, "designer-civil")
    page.get_by_role("link", name="事项").click()
    page.get_by_text("还没有事项").wait_for()
    page.get_by_role("button", name="新建事项").click()
    create = page.get_by_role("form", name="新建事项")
    create.get_by_label("事项编码").fill("jzz-001")
    create.get_by_label("事项名称").fill("居住证申领")
    create.get_by_label("申请表单").select_option("residence")
    create.get_by_label("表单版本").select_option("1")
    create.get_by_label("办理流程").select_option("user_task_form")
    create.get_by_label("流程版本").select_option("1")
    shot(page, "services-new")
    create.get_by_role("button", name="创建").click()
    page.get_by_role("heading", level=1, name="居住证申领").wait_for()

    page.get_by_label("英文名称", exact=True).fill("Residence permit")
    page.get_by_label("类别").fill("户籍")
    page.get_by_label("承诺时限（工作日）").fill("30")
    page.get_by_label("法定时限（工作日）").fill("20")
    page.get_by_label("办理方式").select_option("online")
    page.get_by_role("button", name="添加材料").click()
    material = page.get_by_role("group", name="申请材料 1")
    material.get_by_label("材料名称 1").fill("身份证照片")
    material.get_by_label("对应表单字段 1").select_option("/id_photo")
    material.get_by_label("上传类型 1").select_option("photo")
    material.get_by_label("需核验原件").check()
    page.get_by_label("快速选择").select_option("440000")
    page.get_by_label("行政区划代码").fill("440300")
    page.get_by_role("button", name="添加区域").click()

    page.get_by_role("button", name="检查").click()           # saves, then checks
    page.get_by_text("承诺时限不能超过法定时限").wait_for()     # beside the time limits
    shot(page, "services-problem")
    page.get_by_label("承诺时限（工作日）").fill("10")
    page.get_by_role("button", name="检查").click()
    page.get_by_role("status").get_by_text("没有问题，可以发布").wait_for()
    shot(page, "services-editor")
    assert page.evaluate(UNLABELLED) == []                   # every control of the editor is labelled

    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").get_by_text("已发布为第 1 版").wait_for()
    published = ServiceVersion.objects.get(code="jzz-001", version=1)
    assert published.current and published.body.regions == ["440000", "440300"]
    assert published.body.time_limit_days == 10 and published.body.form_key == "residence"
    assert [(m.name, m.field, m.attachment_kind, m.originals_needed) for m in published.body.materials] == [
        ("身份证照片", "/id_photo", "photo", True)]
    catalogue = client.get("/api/v1/services/jzz-001", headers=headers)
    assert catalogue.status_code == 200 and catalogue.json["name"] == "居住证申领"

    page.get_by_label("历史版本").select_option(label="第 1 版 · 当前版本")
    page.get_by_role("heading", level=1, name="第 1 版").wait_for()
    assert page.get_by_role("button", name="发布").count() == 0      # read-only
    page.get_by_role("cell", name="身份证照片").wait_for()
    shot(page, "services-version")
    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="← jzz-001").click()
    page.get_by_role("button", name="Publish").wait_for()
    shot(page, "services-editor-en")
