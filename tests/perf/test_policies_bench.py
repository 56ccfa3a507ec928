"""免申即享 and results: how fast a policy run decides residents, and what one result PDF costs.

`evaluate` over ZB_BENCH_RESIDENTS profiles (default 5,000; one in ten eligible): seconds, residents per second,
database commands per resident (counted with pymongo's command monitoring), and a second run (everyone already
decided this period). The result PDF: the median of 50 renders with a signature. Reported, never asserted.
Writes tests/perf/results/policies.json.
"""
from __future__ import annotations

import os
import statistics
import time
from datetime import date

from core import clock
from tests.commands import counting_commands
from tests.perf.report import write_result
from tests.storage_fixtures import signature_png
from tests.test_policies import ELDERLY

RESIDENTS = int(os.environ.get("ZB_BENCH_RESIDENTS", "5000"))


def test_a_policy_run_over_many_residents_and_the_cost_of_a_result_pdf(app, settings):
    from core.actor import Actor
    from storage.signatures import process_signature
    from workflows.cases.materials import pdf
    from workflows.cases.policies import evaluate, service
    from workflows.cases.policies.models import PolicyGrant, ResidentProfile

    with app.app_context():
        admin = Actor(user_id="bench", roles=frozenset({"admin"}), username="bench")
        service.create(admin, code="elderly", name="高龄津贴", department="d", dmn_xml=ELDERLY,
                       decision_id="elderly_allowance", period="year")
        service.publish(admin, "elderly")
        docs = [{"_id": f"u{i:07d}", "birth_date": clock.now().replace(
            year=1930 if i % 10 == 0 else 1980, hour=0, minute=0, second=0, microsecond=0), "district": "110101",
            "hukou": "110101", "attributes": {}} for i in range(RESIDENTS)]
        collection = ResidentProfile._get_collection()
        for offset in range(0, RESIDENTS, 1000):
            collection.insert_many(docs[offset:offset + 1000])

        runs = []
        for label in ("first", "again"):
            with counting_commands(settings) as counts:
                began = time.perf_counter()
                report = evaluate.evaluate(batch=500)
                elapsed = time.perf_counter() - began
            runs.append({"run": label, "seconds": round(elapsed, 2), "granted": report.granted,
                         "already": report.already, "residents_per_second": round(RESIDENTS / elapsed, 1),
                         "commands": sum(counts.values()),
                         "commands_per_resident": round(sum(counts.values()) / RESIDENTS, 3)})
        granted = PolicyGrant.objects.count()

        signature = process_signature(signature_png())[0].data
        facts = pdf.Facts(title="准予许可决定书", service="居住证申领", applicant="陈静", decision="准予办理",
                          application_number="ZB2026112700001", number="DZ2026112700001",
                          date=date.today().isoformat(), issuer="东城区民政局", valid_until="长期")
        times = []
        for _ in range(50):
            began = time.perf_counter()
            document = pdf.render(facts, "a" * 64, seal=None, signature=signature, verify_path="/v")
            times.append((time.perf_counter() - began) * 1000)

    write_result("policies", {
        "residents": RESIDENTS, "grants": granted, "batch": 500, "runs": runs,
        "pdf_render_ms_median": round(statistics.median(times), 1), "pdf_bytes": len(document),
        "load_average_1_5_15_min_at_end": [round(x, 1) for x in os.getloadavg()],
        "note": "one process, SecantusDB on the same 2-core machine; a grant = insert (bulk) + audit record + "
                "outbox message (bulk); residents not eligible cost the decision only"})
