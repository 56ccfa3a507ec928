"""The reference mobile client (/m) in a phone-sized Chromium with touch: a resident applies for the demo's
居住证申领 with a photo (a real JPEG with EXIF orientation and GPS) and a drawn signature, approvers clear it from
their inbox one tap at a time, and the resident sees it completed."""
from __future__ import annotations

from tests.browser.conftest import require_built
from tests.storage_fixtures import jpeg


def _seed(app):
    from api import demo, demo_service

    with app.app_context():
        list(demo.seed())
        list(demo_service.seed(demo.DEMO_PASSWORD))


def _sign(page, pad_label):
    """Draw a stroke on a signature pad with the pointer, then confirm it (its upload)."""
    pad = page.get_by_role("img", name=pad_label)
    pad.evaluate("el => el.scrollIntoView({block: 'center', behavior: 'instant'})")   # not under the tab bar
    box = None
    while box != (box := pad.bounding_box()):      # until the page stands still (layout, images loading)
        page.wait_for_timeout(100)
    page.mouse.move(box["x"] + 20, box["y"] + 40)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 20, box["y"] + 40 + (25 if step % 2 else -10))
    page.mouse.up()
    page.get_by_role("button", name="确认签名").last.click()


def _first_task_of_a_case_submitted_through_the_api(app):
    """The demo resident submits 居住证申领 (a drawn signature as both files) through the API; 民政局's approver
    (demo-approver-1) finds its first task in 待办. Returns (client, the submitted application, the approver's headers,
    the task). Call inside app.app_context()."""
    import io

    from tests.conftest import bearer
    from tests.storage_fixtures import signature_png

    client = app.test_client()
    resident = bearer(client.post("/api/v1/auth/dev-login", json={"openid": "demo-openid-resident"})
                      .json["access_token"])
    sign = client.post("/api/v1/attachments", data={"kind": "signature", "file": (io.BytesIO(signature_png()), "s.png")},
                       headers=resident, content_type="multipart/form-data").json["id"]
    submitted = client.post("/api/v1/applications", headers=resident, json={
        "service_code": "residence-permit", "submit": True, "data": {"months": 3, "id_photo": sign, "signature": sign}})
    assert submitted.status_code == 201, submitted.json
    civil = bearer(client.post("/api/v1/auth/login", json={"username": "demo-approver-1",
                                                           "password": "zhangban-demo-2026"}).json["access_token"])
    task = next(t for t in client.get("/api/v1/tasks", headers=civil).json["items"]
                if t["application_id"] == submitted.json["id"])
    return client, submitted.json, civil, task


def _staff_login(page, base, username, shot=None):
    page.goto(f"{base}/m/#/login")
    page.evaluate("localStorage.clear()")
    page.reload()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("zhangban-demo-2026")
    page.get_by_role("button", name="工作人员登录").click()
    try:
        page.get_by_role("tab", name="已办", exact=True).wait_for()
    except Exception:
        shot(page, f"login-{username}-failed")
        raise


def _approve_first(page, shot, name):
    """From the inbox: open the first task, write a comment, sign, approve."""
    page.locator(".van-cell--clickable").first.click()
    page.get_by_label("审批意见").fill("同意")
    _sign(page, "签名: 请在此签名")
    page.get_by_text("已签名").wait_for()
    shot(page, name)
    page.get_by_role("button", name="同意", exact=True).click()
    try:
        page.get_by_role("tab", name="已办", exact=True).wait_for()
    except Exception:
        shot(page, f"{name}-failed")
        raise


def test_a_resident_applies_on_a_phone_and_approvers_clear_it_from_their_inbox(app, live_server, phone, shot,
                                                                              tmp_path):
    require_built("api/web")
    _seed(app)
    photo = tmp_path / "id.jpg"
    photo.write_bytes(jpeg(orientation=6))          # taken sideways; the server turns it and drops the GPS

    phone.goto(f"{live_server}/m/")
    phone.get_by_role("button", name="登录", exact=True).click()     # the demo resident, development login
    phone.get_by_text("居住证申领").first.wait_for()
    shot(phone, "catalog")
    phone.get_by_text("居住证申领").first.click()
    phone.get_by_role("button", name="在线申请").click()
    phone.get_by_label("已居住月数").fill("18")
    phone.get_by_label("身份证照片").set_input_files(str(photo))
    phone.locator(".photo-field img").first.wait_for()           # uploaded, its thumbnail shown from MinIO
    _sign(phone, "申请人签名: 请在此签名")
    phone.get_by_text("已签名").wait_for()
    assert phone.get_by_label("姓名").input_value() == "陈静"      # prefilled from the verified profile
    shot(phone, "form")
    phone.get_by_role("button", name="提交").click()
    phone.get_by_test_id("status").wait_for()
    assert phone.get_by_test_id("status").inner_text() == "办理中"
    number = phone.locator(".van-cell__value").first.inner_text()
    assert number.startswith("ZB")
    shot(phone, "submitted")

    # the approvers' own phone: a context of its own (its storage is not the resident's)
    approver = phone.context.browser.new_context(viewport={"width": 414, "height": 896}, device_scale_factor=2,
                                                 is_mobile=True, has_touch=True, locale="zh-CN").new_page()
    _staff_login(approver, live_server, "demo-approver-1", shot)
    shot(approver, "inbox")
    _approve_first(approver, shot, "task")
    _staff_login(approver, live_server, "demo-approver-3", shot)        # 联合核查: a countersign of two
    _approve_first(approver, shot, "countersign-1")
    _approve_first(approver, shot, "countersign-2")
    _staff_login(approver, live_server, "demo-approver-1", shot)        # 制证发证
    _approve_first(approver, shot, "issue")

    phone.reload()
    phone.get_by_test_id("status").wait_for()
    assert phone.get_by_test_id("status").inner_text() == "已办结"
    shot(phone, "completed")

    from workflows.cases.applications.models import Application
    with app.app_context():
        done = Application.objects(number=number).get()
    assert done.status == "approved" and [e.action for e in done.timeline][0] == "submitted"
    assert sum(1 for e in done.timeline if e.signature) == 4      # every approval carries its drawn signature

    # 好差评: five stars, a tag and a comment, once; then the rating as given with a follow-up field
    phone.get_by_test_id("rating").scroll_into_view_if_needed()
    phone.locator(".van-rate__item").nth(4).click()
    phone.get_by_role("checkbox", name="办事高效").click()
    phone.get_by_label("评价", exact=True).fill("很快就办好了")
    shot(phone, "rating")
    phone.get_by_role("button", name="提交评价").click()
    phone.get_by_text("我的评价").wait_for()
    assert phone.get_by_role("button", name="提交评价").count() == 0
    from workflows.cases.ratings.models import Rating
    with app.app_context():
        rating = Rating.objects(application_id=done.id).get()
    assert (rating.score, list(rating.tags), rating.comment) == (5, ["办事高效"], "很快就办好了")

    # 消息: what the case carried reaches the resident once the worker's round delivers it
    from core import deferred
    with app.app_context():
        deferred.deliver()
    phone.goto(f"{live_server}/m/#/me")
    phone.get_by_test_id("unread").wait_for()
    phone.get_by_text("消息", exact=True).click()
    phone.get_by_text("居住证申领 已办结").click()
    phone.get_by_test_id("status").wait_for()
    assert phone.url.endswith(f"#/apps/{done.id}")
    from workflows.cases.notify.models import Notification
    with app.app_context():
        [told] = Notification.objects(application_id=str(done.id), kind="approved")
    assert told.read_at is not None                               # opening it marked it read


def test_a_wrong_id_card_is_caught_on_the_phone_a_draft_comes_back_and_a_returned_case_is_corrected(
        app, live_server, phone, shot):
    from workflows.cases.applications.models import Application
    require_built("api/web")
    _seed(app)

    phone.goto(f"{live_server}/m/")
    phone.get_by_role("button", name="登录", exact=True).click()
    phone.get_by_text("居住证申领").first.click()
    phone.get_by_role("button", name="在线申请").click()
    phone.get_by_label("身份证号").fill("110101199003076633")          # one digit off: the check character fails
    phone.get_by_role("button", name="提交").click()
    phone.get_by_text("身份证号格式或校验位不正确").wait_for()
    shot(phone, "id-card-refused")
    with app.app_context():
        assert Application.objects.count() == 0                       # nothing was sent
    phone.get_by_label("身份证号").fill("110101199003076632")
    phone.get_by_label("已居住月数").fill("7")
    phone.get_by_role("button", name="保存草稿").click()
    phone.get_by_text("草稿已保存").wait_for()
    with app.app_context():
        [draft] = Application.objects(status="draft")
    phone.goto(f"{live_server}/m/#/apps")
    phone.locator(".van-cell", has_text="居住证申领").first.click()     # (not the toast "草稿已保存")
    assert phone.get_by_label("已居住月数").input_value() == "7"          # the draft, as saved

    # 补正: a submitted case sent back asking for /months only
    with app.app_context():
        client, submitted, civil, task = _first_task_of_a_case_submitted_through_the_api(app)
        r = client.post(f"/api/v1/tasks/{task['id']}/return", headers=civil, json={
            "version": task["version"], "reason": "居住月数与登记不符", "fields": [{"path": "/months"}]})
        assert r.status_code == 200, r.json
    phone.goto(f"{live_server}/m/#/apps/{submitted['id']}")
    phone.get_by_role("button", name="去补正").click()
    phone.get_by_text("居住月数与登记不符").wait_for()
    assert phone.get_by_label("居住地址").is_disabled() and not phone.get_by_label("已居住月数").is_disabled()
    phone.get_by_label("已居住月数").fill("13")
    shot(phone, "supplement")
    phone.get_by_role("button", name="提交补正").click()
    phone.get_by_test_id("status").wait_for()
    assert phone.get_by_test_id("status").inner_text() == "办理中"
    with app.app_context():
        assert Application.objects(id=submitted["id"]).get().data["months"] == 13

    # 催办 while it is in progress: once, then the server's once-a-day refusal on the page
    phone.get_by_role("button", name="催办").click()
    phone.get_by_text("已催办，办理人员会收到提醒").wait_for()
    with app.app_context():
        assert Application.objects(id=submitted["id"]).get().last_urged_at is not None
    phone.get_by_role("button", name="催办").click()
    phone.get_by_text("每天只能催办一次").wait_for()


def test_a_resident_applies_for_a_bundle_in_one_form_and_withdraws_it_whole(app, live_server, phone, shot):
    from api import demo, demo_bundle
    from workflows.cases.applications.models import Application
    from workflows.cases.bundles.models import BundleCase
    require_built("api/web")
    _seed(app)
    with app.app_context():
        list(demo_bundle.seed(demo.DEMO_PASSWORD))

    phone.goto(f"{live_server}/m/")
    phone.get_by_role("button", name="登录", exact=True).click()
    phone.get_by_text("新生儿出生一件事").click()
    phone.get_by_text("共同信息").wait_for()
    # the fields both departments ask are asked once; each department's own after them
    assert phone.get_by_label("父/母身份证号").count() == 1 and phone.get_by_label("新生儿姓名").count() == 1
    if not phone.get_by_label("父/母身份证号").input_value():
        phone.get_by_label("父/母身份证号").fill("110101199003076632")
    phone.get_by_label("新生儿姓名").fill("陈小满")
    phone.get_by_label("出生日期").fill("2026-11-20")
    phone.get_by_role("button", name="一次提交").click()
    phone.get_by_text("必填").wait_for()                          # 户籍地址, the police's own field, is missing
    with app.app_context():
        assert BundleCase.objects.count() == 0
    phone.get_by_label("户籍地址").fill("东城区东四十条 8 号")
    assert phone.get_by_text("必填").count() == 0                  # the mark goes once the field is filled,
    assert phone.get_by_text("请先修改标出的内容").count() == 0       # and the note with the last mark
    shot(phone, "bundle-form")
    phone.get_by_role("button", name="一次提交").click()
    phone.get_by_test_id("status").wait_for()
    assert phone.get_by_test_id("status").inner_text() == "办理中"
    assert phone.locator("[data-part=birth] .van-tag").inner_text() == "办理中"
    assert phone.locator("[data-part=hukou] .van-tag").inner_text() == "待前序办结"     # needs the certificate
    shot(phone, "bundle-case")
    with app.app_context():
        [case] = BundleCase.objects
        [birth] = Application.objects(bundle_id=case.id)
    assert birth.data == {"mother_id_card": "110101199003076632", "baby_name": "陈小满", "birth_date": "2026-11-20"}

    phone.get_by_role("button", name="整体撤回").click()
    phone.get_by_role("button", name="确认").click()
    phone.get_by_text("已撤回").first.wait_for()
    assert phone.get_by_test_id("status").inner_text() == "已撤回"
    with app.app_context():
        assert BundleCase.objects(id=case.id).get().status == "withdrawn"
        assert Application.objects(id=birth.id).get().status == "withdrawn"
    phone.goto(f"{live_server}/m/#/apps")
    phone.get_by_text("我的一件事").wait_for()
    assert phone.locator(".van-cell", has_text="新生儿出生一件事").first.is_visible()


def test_a_bad_rating_reaches_the_department_on_a_phone_and_its_reply_reaches_the_resident(app, live_server, phone,
                                                                                          shot):
    from workflows.cases.ratings.models import Rating
    require_built("api/web")
    _seed(app)
    with app.app_context():           # a case 民政局 rejected at its first step
        client, submitted, civil, task = _first_task_of_a_case_submitted_through_the_api(app)
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=civil, json={
            "version": task["version"], "decision": "reject", "comment": "居住未满半年"})
        assert r.status_code == 200, r.json

    phone.goto(f"{live_server}/m/")
    phone.get_by_role("button", name="登录", exact=True).click()
    phone.get_by_text("居住证申领").first.wait_for()
    phone.goto(f"{live_server}/m/#/apps/{submitted['id']}")
    phone.get_by_test_id("rating").wait_for()
    phone.locator(".van-rate__item").nth(0).click()                 # one star: the negative tags are offered
    phone.get_by_role("checkbox", name="等待太久").click()
    phone.get_by_label("评价", exact=True).fill("跑了两趟还没说清楚")
    phone.get_by_role("button", name="提交评价").click()
    phone.get_by_text("我的评价").wait_for()

    approver = phone.context.browser.new_context(viewport={"width": 414, "height": 896}, is_mobile=True,
                                                 has_touch=True, locale="zh-CN").new_page()
    _staff_login(approver, live_server, "demo-approver-1", shot)
    approver.get_by_text("差评回访").first.click()
    approver.get_by_test_id("followed-rating").wait_for()
    assert approver.get_by_text("跑了两趟还没说清楚").is_visible()
    assert approver.get_by_role("button", name="同意", exact=True).count() == 0     # nothing to approve here
    approver.get_by_text("身份证号", exact=True).wait_for()      # the form's labels (loaded after the case), not its
    assert approver.get_by_text("id_card", exact=True).count() == 0   # field names
    approver.get_by_label("回访整改情况").fill("已电话回访，说明了材料要求")
    shot(approver, "follow-up")
    approver.get_by_role("button", name="提交回访情况").click()
    approver.get_by_role("tab", name="已办", exact=True).wait_for()
    with app.app_context():
        assert Rating.objects(application_id=submitted["id"]).get().reply.comment == "已电话回访，说明了材料要求"

    phone.reload()
    phone.get_by_text("部门回复").wait_for()
    assert phone.get_by_text("已电话回访，说明了材料要求", exact=False).is_visible()


def test_a_colleague_copied_on_a_case_opens_it_on_a_phone(app, live_server, phone, shot):
    from api.identity.models import User
    from workflows.cases.tasks.models import CarbonCopy
    require_built("api/web")
    _seed(app)
    with app.app_context():           # 民政局's approver copies the case to 公安局's (its process has their step)
        client, submitted, civil, task = _first_task_of_a_case_submitted_through_the_api(app)
        colleague = User.objects(username="demo-approver-3").get()
        r = client.post(f"/api/v1/tasks/{task['id']}/cc", headers=civil,
                        json={"user_ids": [str(colleague.id)], "comment": "请公安局核对户籍"})
        assert r.status_code == 200 and r.json["copied"] == 1, r.json

    _staff_login(phone, live_server, "demo-approver-3", shot)
    phone.get_by_role("tab", name="抄送").click()
    phone.locator(".van-cell.unread", has_text="居住证申领").click()
    phone.get_by_test_id("copy-from").wait_for()
    assert "请公安局核对户籍" in phone.get_by_test_id("copy-from").inner_text()
    assert phone.get_by_text("身份证号", exact=True).is_visible()          # under the form's labels,
    assert phone.get_by_text("110101199003076632").count() == 0             # and masked as for any staff
    shot(phone, "copy")
    with app.app_context():
        assert CarbonCopy.objects(user_id=str(colleague.id)).get().read_at is not None    # opening it read it
    # the full image of a copy needs a stated reason, recorded with the read
    phone.locator(".thumb-button").first.click()
    dialog = phone.locator(".van-dialog", has_text="查看原图")
    dialog.wait_for()
    dialog.get_by_role("button", name="确认").click()                 # no reason: it stays open
    assert dialog.is_visible()
    phone.get_by_test_id("image-reason").locator("input").fill("核对证件照片")
    dialog.get_by_role("button", name="确认").click()
    phone.locator(".van-image-preview").wait_for()
    shot(phone, "copy-full-image")
    with app.app_context():
        from core.audit import AuditRecord
        from core import deferred

        deferred.deliver()
        reads = AuditRecord.objects(action="attachment.read", actor_id=str(colleague.id))
        full = [(r.details.get("variant"), r.details.get("reason")) for r in reads
                if r.details.get("variant") != "thumbnail"]
        assert full == [("full", "核对证件照片")]
    phone.keyboard.press("Escape")
    phone.locator(".van-image-preview").click()
    phone.go_back()
    phone.get_by_role("tab", name="抄送").click()
    phone.locator(".van-cell", has_text="居住证申领").first.wait_for()
    assert phone.locator(".van-cell.unread").count() == 0                   # listed as read now


def test_an_approver_approves_several_cases_at_once_and_is_told_which_could_not_be(app, live_server, phone, shot):
    from workflows.cases.tasks.models import HumanTask
    require_built("api/web")
    _seed(app)
    with app.app_context():
        made = [_first_task_of_a_case_submitted_through_the_api(app) for _ in range(3)]
    client, _, civil, _ = made[0]
    tasks = [task for *_, task in made]

    _staff_login(phone, live_server, "demo-approver-1", shot)
    phone.get_by_role("button", name="批量同意").click()
    for task in tasks:
        phone.get_by_role("checkbox", name=task["application_number"]).click()
    with app.app_context():           # a colleague's phone approved the third while this one was choosing
        r = client.post(f"/api/v1/tasks/{tasks[2]['id']}/complete", headers=civil,
                        json={"version": tasks[2]["version"], "decision": "approve", "comment": "同意"})
        assert r.status_code == 200, r.json
    shot(phone, "batch")
    phone.get_by_role("button", name="同意所选（3）").click()
    phone.get_by_test_id("batch-refused").wait_for()
    refused = phone.get_by_test_id("batch-refused").inner_text()
    assert tasks[2]["application_number"] in refused and tasks[0]["application_number"] not in refused
    with app.app_context():
        done = {str(t.id): (t.status, t.outcome) for t in HumanTask.objects(id__in=[t["id"] for t in tasks])}
    assert done[tasks[0]["id"]] == done[tasks[1]["id"]] == ("done", "approved")


def test_a_resident_confirms_on_the_phone_an_authorisation_a_helper_recorded_on_site(app, live_server, phone, shot,
                                                                                   make_staff):
    """帮办代办 is not self-granted: the helper's on-site record waits for the resident's 确认 under its message."""
    import io
    from datetime import timedelta

    from api import demo
    from api.identity.models import Department
    from core import clock, deferred
    from tests.storage_fixtures import signature_png
    from workflows.cases.proxy.models import Authorisation
    require_built("api/web")
    _seed(app)
    with app.app_context():
        civil = Department.objects(code="civil").get()
    helper = make_staff("window-helper", [{"role": "helper", "department_id": str(civil.id)}])[1]

    def recorded_on_site():
        """The helper records the resident's signed authorisation at the window; it waits (pending)."""
        with app.app_context():
            client = app.test_client()
            sign = client.post("/api/v1/attachments", headers=helper, content_type="multipart/form-data",
                               data={"kind": "signature", "file": (io.BytesIO(signature_png()), "s.png")}).json["id"]
            r = client.post("/api/v1/helper/authorisations", headers=helper, json={
                "resident_id_card": demo.DEMO_ID_CARD, "services": ["residence-permit"], "actions": ["submit"],
                "expires_at": (clock.now() + timedelta(days=30)).isoformat(), "signature": sign})
            assert r.status_code == 202, r.json
            deferred.deliver()
            return Authorisation.objects(status="pending").order_by("-created_at").first()

    pending = recorded_on_site()

    phone.goto(f"{live_server}/m/")
    phone.get_by_role("button", name="登录", exact=True).click()     # the demo resident
    phone.get_by_text("居住证申领").first.wait_for()
    phone.goto(f"{live_server}/m/#/me")
    phone.get_by_text("消息", exact=True).click()
    answer = phone.get_by_test_id(f"authorisation-{pending.id}")
    answer.wait_for()
    shot(phone, "authorisation-pending")
    assert "居住证" in answer.locator("xpath=preceding-sibling::*[1]").inner_text()   # the service by name, not its code
    answer.get_by_role("button", name="确认授权").click()
    phone.get_by_test_id(f"answered-{pending.id}").wait_for()
    assert phone.get_by_test_id(f"answered-{pending.id}").inner_text() == "已确认授权"
    with app.app_context():
        assert Authorisation.objects(id=pending.id).get().status == "active"
    phone.reload()                                                     # answered stays answered
    phone.get_by_test_id(f"answered-{pending.id}").wait_for()
    assert phone.get_by_test_id(f"authorisation-{pending.id}").count() == 0

    # another one, refused: 拒绝 asks first (取消 leaves it waiting), then the helper holds nothing
    second = recorded_on_site()
    phone.reload()
    answer = phone.get_by_test_id(f"authorisation-{second.id}")
    answer.wait_for()
    answer.get_by_role("button", name="拒绝").click()
    dialog = phone.locator(".van-dialog", has_text="确定拒绝")
    dialog.wait_for()
    dialog.get_by_role("button", name="取消").click()
    dialog.wait_for(state="hidden")
    with app.app_context():
        assert Authorisation.objects(id=second.id).get().status == "pending"
    answer.get_by_role("button", name="拒绝").click()
    dialog.get_by_role("button", name="确认").click()
    phone.get_by_test_id(f"answered-{second.id}").wait_for()
    assert phone.get_by_test_id(f"answered-{second.id}").inner_text() == "已拒绝"
    with app.app_context():
        assert Authorisation.objects(id=second.id).get().status == "refused"


def test_an_approver_with_a_hundred_open_tasks_sees_99_plus_on_the_inbox_tab(app, live_server, phone, shot):
    """Badge counts stop at the server's cap: at 100 open tasks the 待办 tab says 99+, and below it the number."""
    from bson import ObjectId
    from playwright.sync_api import expect

    from api.identity.models import Department
    from core import clock
    from workflows.cases.tasks.models import HumanTask
    require_built("api/web")
    _seed(app)
    with app.app_context():
        civil = str(Department.objects(code="civil").get().id)
        HumanTask._get_collection().insert_many([
            {"task_id": f"bulk-{i}", "instance_id": ObjectId(), "application_id": ObjectId(),
             "application_number": f"ZB20261208{i:05d}", "name": "受理审核", "service_name": "居住证申领",
             "candidate_departments": [civil], "audience": [f"dept:{civil}"], "status": "open", "recused": [],
             "due_at": clock.now(), "created_at": clock.now(), "version": 1} for i in range(100)])
    _staff_login(phone, live_server, "demo-approver-1", shot)
    badge = phone.get_by_role("tab", name="待办").locator(".van-badge")
    badge.wait_for()
    assert badge.inner_text() == "99+"
    with app.app_context():
        HumanTask._get_collection().delete_one({"task_id": "bulk-0"})
    phone.reload()
    expect(phone.get_by_role("tab", name="待办").locator(".van-badge")).to_have_text("99")
