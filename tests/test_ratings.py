"""好差评 over HTTP: a resident rates a completed application once and may add one follow-up; a bad rating puts a
follow-up task in the handling department's inbox, and the department's reply reaches the resident."""
from __future__ import annotations

from tests.stats_fixtures import approve, case, civil_lead, rate, reject  # noqa: F401 (fixtures)


def test_only_a_completed_application_of_ones_own_is_rated_once(case, resident_login):
    from tests.conftest import bearer

    submitted = case.submit()
    refused = rate(case, submitted["id"], 5, expect=409)
    assert refused["code"] == "conflict" and refused["message"] == "办结后才能评价"
    approve(case, submitted)
    other = bearer(resident_login()["access_token"])
    assert rate(case, submitted["id"], 1, expect=404, headers=other)["code"] == "not_found"

    rating = rate(case, submitted["id"], 4, tags=["态度好", "效率高", "态度好"], comment="很快")
    assert (rating["score"], rating["tags"], rating["comment"]) == (4, ["态度好", "效率高"], "很快")
    assert rating["follow_up_task"] is None and rating["application_number"] == submitted["number"]
    again = rate(case, submitted["id"], 1, expect=409)
    assert again["message"] == "该办件已评价，可以追加评论"

    url = f"/api/v1/applications/{submitted['id']}/rating"
    r = case.client.post(f"{url}/follow-up", json={"comment": "证已收到"}, headers=case.resident)
    assert r.status_code == 200 and r.json["follow_up"]["comment"] == "证已收到" and r.json["score"] == 4
    r = case.client.post(f"{url}/follow-up", json={"comment": "再说一次"}, headers=case.resident)
    assert r.status_code == 409 and r.json["message"] == "已追加过评论"
    shown = case.client.get(url, headers=case.resident).json
    assert (shown["score"], shown["comment"], shown["follow_up"]["comment"]) == (4, "很快", "证已收到")
    assert case.client.get(url, headers=other).status_code == 404


def test_bad_input_names_the_field(case):
    submitted = case.submit()
    reject(case, submitted)
    url = f"/api/v1/applications/{submitted['id']}/rating"
    for body, path in (({"score": 6}, "/score"), ({"score": "5"}, "/score"), ({}, "/score"),
                       ({"score": 3, "tags": ["x" * 21]}, "/tags/0"), ({"score": 3, "comment": "长" * 501}, "/comment")):
        r = case.client.post(url, json=body, headers={**case.resident, "Accept-Language": "en"})
        assert r.status_code == 422 and r.json["errors"][0]["path"] == path, (body, r.json)
    r = case.client.post(f"{url}/follow-up", json={"comment": ""}, headers=case.resident)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/comment"
    r = case.client.post(f"{url}/follow-up", json={"comment": "补一句"}, headers=case.resident)
    assert r.status_code == 404      # nothing rated yet: no rating to follow up


def test_a_bad_rating_is_followed_up_by_the_department(case, civil_lead):
    from workflows.cases.notify.models import Notification

    submitted = case.submit()
    reject(case, submitted)
    rating = rate(case, submitted["id"], 2, tags=["等待久"], comment="跑了三趟")
    assert rating["follow_up_task"]

    [task] = [t for t in case.todo(case.civil_2) if t["kind"] == "rating_followup"]
    assert task["id"] == rating["follow_up_task"] and task["application_number"] == submitted["number"]
    assert task["name"] == "差评回访" and task["due_at"]
    assert case.todo(case.housing_1) == []                       # the service's department only
    told = {n.user_id for n in Notification.objects(kind="task_assigned", task_id=task["id"])}
    assert len(told) == 3                                        # its two approvers and its lead

    shown = case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.civil_2).json
    assert (shown["rating"]["score"], shown["rating"]["tags"], shown["rating"]["comment"]) == (2, ["等待久"], "跑了三趟")
    form = case.client.get(shown["application"]["render_url"], headers=case.civil_2)   # the labels of its data
    assert form.status_code == 200 and form.json["components"]
    missing = case.act(case.civil_2, task, expect=422)
    assert missing["errors"][0]["path"] == "/comment"
    done = case.act(case.civil_2, task, comment="已电话回访，说明原因并致歉")
    assert (done["status"], done["outcome"], done["kind"]) == ("done", "resolved", "rating_followup")
    assert case.todo(case.civil_2) == []
    shown = case.client.get(f"/api/v1/applications/{submitted['id']}/rating", headers=case.resident).json
    assert shown["reply"]["comment"] == "已电话回访，说明原因并致歉" and shown["reply"]["actor_name"] == "民政局"
    assert case.application(submitted["id"])["status"] == "rejected"      # the case itself is untouched

    listed = case.client.get("/api/v1/ratings", query_string={"bad": "true"}, headers=civil_lead).json
    assert [(r["score"], r["comment"]) for r in listed["items"]] == [(2, "跑了三趟")]
    r = case.client.get("/api/v1/ratings", query_string={"department": case.housing["id"]}, headers=civil_lead)
    assert r.status_code == 403
    assert case.client.get("/api/v1/ratings", headers=case.resident).status_code == 403


def test_a_good_rating_opens_no_task(case):
    submitted = case.submit()
    approve(case, submitted)
    rate(case, submitted["id"], 3)
    assert [t for t in case.todo(case.civil_1) if t["kind"] == "rating_followup"] == []


def test_a_delegated_follow_up_comes_back_to_the_one_who_delegated_it(case):
    """A 差评回访 is a task like any other for 委派: the delegate's work is recorded and it comes back to decide."""
    submitted = case.submit()
    reject(case, submitted)
    rate(case, submitted["id"], 1, comment="态度差")
    [task] = [t for t in case.todo(case.civil_1) if t["kind"] == "rating_followup"]
    task = case.act(case.civil_1, task, action="claim")
    civil_2 = case.client.get("/api/v1/me", headers=case.civil_2).json["id"]
    delegated = case.act(case.civil_1, task, action="delegate", user_id=civil_2, comment="请先回访")
    [theirs] = [t for t in case.todo(case.civil_2) if t["kind"] == "rating_followup"]
    assert theirs["id"] == delegated["id"]
    back = case.act(case.civil_2, theirs, comment="已电话回访")
    assert back["status"] == "open" and back["assignee"] != civil_2          # back with me, not closed
    shown = case.client.get(f"/api/v1/applications/{submitted['id']}/rating", headers=case.resident).json
    assert shown["reply"] is None                                           # nobody has replied yet
    [mine] = [t for t in case.todo(case.civil_1) if t["kind"] == "rating_followup"]
    done = case.act(case.civil_1, mine, comment="核实后致歉")
    assert (done["status"], done["outcome"]) == ("done", "resolved")


def test_a_bad_ratings_follow_up_lost_to_a_crash_is_written_by_the_worker(case, app, monkeypatch):
    """The rating was stored, its request died before the follow-up task: the worker's job writes it, once."""
    from datetime import timedelta

    from core import clock
    from workflows.cases.ratings import service as ratings
    from workflows.cases.tasks.models import HumanTask

    submitted = case.submit()
    reject(case, submitted)
    monkeypatch.setattr(ratings, "task_for", lambda rating, app: (_ for _ in ()).throw(SystemExit("died")))
    try:
        rate(case, submitted["id"], 1, comment="没人管")
    except SystemExit:
        pass
    monkeypatch.undo()
    assert [t for t in case.todo(case.civil_1) if t["kind"] == "rating_followup"] == []
    with app.app_context():
        assert ratings.follow_ups_due() == 0                    # within the grace a living request has
        assert ratings.follow_ups_due(clock.now() + timedelta(minutes=2)) == 1
        assert ratings.follow_ups_due(clock.now() + timedelta(minutes=4)) == 0
        assert HumanTask.objects(kind="rating_followup").count() == 1
    [task] = [t for t in case.todo(case.civil_1) if t["kind"] == "rating_followup"]
    assert task["name"] == "差评回访"
