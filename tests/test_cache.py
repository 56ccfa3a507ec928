"""core.cache.WeightedLRU: evicts the least recently used by weight, builds a missing key once for all callers."""
from __future__ import annotations

import threading

import pytest

from core.cache import WeightedLRU


def test_reading_an_entry_keeps_it_and_the_weight_bound_evicts_the_least_recently_used():
    cache = WeightedLRU("t", max_weight=10, weigh=len)
    cache.get("a", lambda: "aaaa")
    cache.get("b", lambda: "bbbb")
    cache.get("a", lambda: pytest.fail("a is cached"))     # a is now the most recently used
    cache.get("c", lambda: "cccc")                          # 12 > 10: b goes, not a (first in)
    assert "a" in cache and "c" in cache and "b" not in cache and cache.weight == 8
    cache.get("huge", lambda: "x" * 11)                     # heavier than the budget: returned, never kept
    assert "huge" not in cache and len(cache) == 2


def test_concurrent_callers_of_a_missing_key_share_one_build():
    cache, started, release = WeightedLRU("t", max_weight=100, weigh=len), threading.Event(), threading.Event()
    calls = []

    def build():
        calls.append(1)
        started.set()
        release.wait(5)
        return "value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", build))) for _ in range(8)]
    threads[0].start()
    started.wait(5)
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(5)
    assert calls == [1] and results == ["value"] * 8 and cache.builds == 1


def test_a_failed_build_is_not_cached_and_waiting_callers_see_its_error():
    cache = WeightedLRU("t", max_weight=100, weigh=len)
    with pytest.raises(ValueError):
        cache.get("k", lambda: (_ for _ in ()).throw(ValueError("no")))
    assert "k" not in cache and cache.get("k", lambda: "ok") == "ok"



def test_an_entry_older_than_max_age_is_built_again(monkeypatch):
    import core.cache as cache_module
    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    cache = cache_module.WeightedLRU("aging", max_weight=1000, weigh=lambda v: 1, max_age=5)
    builds = []
    assert cache.get("k", lambda: builds.append(1) or "first") == "first"
    now[0] += 4.9
    assert cache.get("k", lambda: "second") == "first"         # still young
    now[0] += 0.2
    assert cache.get("k", lambda: "second") == "second" and cache.weight == 1
    cache.forget("k")
    assert "k" not in cache and cache.weight == 0
