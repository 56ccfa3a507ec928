"""Audit appends with 8 concurrent writers (issue 14, item 7): the unchained insert the app does now
(core.audit.record, sealed later by the worker's sealer) against the chained append it did before, reproduced
here on a collection of its own: read the chain's tail, insert seq+1 with the hash over the previous one, and on
a unique-index collision read the tail again and retry — so every writer of every instance queued on one tail.
Also: how fast one sealer chains what the writers inserted. JSON under tests/perf/results/; never fails on timing.
Knob: ZB_AUDIT_APPENDS (per writer, 100).
Run: .venv/bin/python -m pytest tests/perf/test_audit_append_bench.py -q -s --timeout 0
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from core import audit
from core.actor import Actor
from core.db import database
from tests.perf.report import write_result

WRITERS = 8
APPENDS = int(os.environ.get("ZB_AUDIT_APPENDS", "100"))
ACTOR = Actor(user_id="bench", roles=frozenset({"admin"}), username="bench")


def _concurrently(append) -> float:
    start = threading.Barrier(WRITERS + 1)

    def writer(w):
        start.wait()
        for i in range(APPENDS):
            append(w, i)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def test_audit_appends_with_eight_writers(app):
    with app.app_context():
        # now: one insert per record, no read, nothing shared between writers
        unchained_s = _concurrently(lambda w, i: audit.record(ACTOR, "bench.append", "bench", f"{w}-{i}", n=i))
        sealing_began = time.perf_counter()
        sealed = 0
        while (step := audit.seal()) > 0:
            sealed += step
        seal_s = time.perf_counter() - sealing_began
        verified = audit.verify()

        # before: the chained append, reproduced on its own collection
        chain = database()["audit_chained_bench"]
        chain.drop()
        chain.create_index([("seq", ASCENDING)], unique=True)
        retries, lock = [0], threading.Lock()

        def chained(w, i):
            payload = json.dumps({"actor": "bench", "action": "bench.append", "object": f"{w}-{i}", "n": i})
            while True:
                tail = chain.find_one({}, {"seq": 1, "hash": 1}, sort=[("seq", DESCENDING)])
                seq, prev = (tail["seq"] + 1, tail["hash"]) if tail else (1, "0" * 64)
                digest = hashlib.sha256(f"{prev}{seq}{payload}".encode()).hexdigest()
                try:
                    chain.insert_one({"seq": seq, "prev_hash": prev, "hash": digest, "payload": payload})
                    return
                except DuplicateKeyError:
                    with lock:
                        retries[0] += 1

        chained_s = _concurrently(chained)
        assert chain.count_documents({}) == WRITERS * APPENDS
        chain.drop()
    total = WRITERS * APPENDS
    write_result("audit_appends", {
        "writers": WRITERS, "appends": total,
        "unchained_insert_appends_per_s": round(total / unchained_s, 1),
        "chained_append_before_appends_per_s": round(total / chained_s, 1),
        "chained_retries_on_collision": retries[0],
        "speed_up": round(chained_s / unchained_s, 2),
        "sealer_records_per_s": round(sealed / seal_s, 1) if seal_s else None, "sealed": sealed,
        "verify_ok": verified.ok,
        "note": "one process, 8 threads, on the test SecantusDB; 'before' reproduces the old read-tail/insert-seq/"
                "retry append on a collection of its own (raw pymongo, so it is if anything flattered); the sealer "
                "chains records one conditional update each",
    })
