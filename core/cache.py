"""One small in-process cache: least recently used out first, bounded by an estimated weight in bytes, and at most
one build per missing key (other callers asking for the same key meanwhile wait for that build).

    SPECS = WeightedLRU("process specs", max_weight=64 * MiB, weigh=len)
    text = SPECS.get(version_id, lambda: load_spec_text(version_id))

Every gunicorn worker holds its own caches: the budgets here are per worker (docs/architecture.md). What can
change (a service's current version) is cached with `max_age` seconds: other workers see a change that late.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable

MiB = 1024 * 1024


class _Build:
    __slots__ = ("done", "value", "error")

    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.error: BaseException | None = None


_ALL: list = []       # every WeightedLRU, and other per-process state registered to be cleared with them


def register(state):
    """Another piece of per-process state (anything with `clear()`) that `clear_all` empties; returns it."""
    _ALL.append(state)
    return state


def clear_all() -> None:
    """Empty every cache of this process (tests that wipe the database between them call this)."""
    for cache in _ALL:
        cache.clear()


class WeightedLRU:
    def __init__(self, name: str, *, max_weight: int, weigh: Callable[[object], int], max_age: float | None = None):
        self.name, self.max_weight, self._weigh, self.max_age = name, max_weight, weigh, max_age
        _ALL.append(self)
        self._items: OrderedDict[Hashable, tuple[object, int, float]] = OrderedDict()   # value, weight, born
        self._building: dict[Hashable, _Build] = {}
        self._lock = threading.Lock()
        self.weight = 0
        self.builds = 0

    def get(self, key: Hashable, build: Callable[[], object]):
        """The cached value of key, or build() once — concurrent callers for the same key share that build
        (and its exception, if it raises: nothing is cached then)."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and self.max_age is not None and time.monotonic() - hit[2] > self.max_age:
                self.weight -= self._items.pop(key)[1]
                hit = None
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
            pending = self._building.get(key)
            owner = pending is None
            if owner:
                pending = self._building[key] = _Build()
        if not owner:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value
        try:
            pending.value = build()
            weight = max(1, int(self._weigh(pending.value)))
        except BaseException as exc:
            pending.error = exc
            raise
        finally:
            with self._lock:
                self._building.pop(key, None)
                if pending.error is None:
                    self.builds += 1
                    self._store(key, pending.value, weight)
            pending.done.set()
        return pending.value

    def _store(self, key, value, weight: int) -> None:
        if weight > self.max_weight:
            return   # heavier than the whole budget: used once, never kept
        old = self._items.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        self._items[key] = (value, weight, time.monotonic())
        self.weight += weight
        while self.weight > self.max_weight:
            _, (_, dropped, _) = self._items.popitem(last=False)
            self.weight -= dropped

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def forget(self, key) -> None:
        """Drop one entry (this worker changed what it holds)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.weight -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.weight = 0
