"""Counting the database commands an operation sends (pymongo command monitoring)."""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager

from pymongo import monitoring


class _Counting(monitoring.CommandListener):
    def __init__(self):
        self.counts: Counter = Counter()
        self.returned: Counter = Counter()     # {(command, collection): documents answered}
        self.keys: dict = {}
        self.lock = threading.Lock()

    def started(self, event):
        target = event.command.get(event.command_name)
        key = (event.command_name, target if isinstance(target, str) else "")
        with self.lock:
            self.counts[key] += 1
            self.keys[event.request_id] = key

    def succeeded(self, event):
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        batch = (cursor.get("firstBatch", cursor.get("nextBatch")) if isinstance(cursor, dict) else None)
        with self.lock:
            key = self.keys.pop(event.request_id, None)
            if key is not None and batch is not None:
                self.returned[key] += len(batch)

    def failed(self, event):
        pass


@contextmanager
def counting_commands(settings, *, listener=None):
    """Within the block the app's client counts {(command, collection): n}; reconnects without it after. Pass a
    `listener()` of your own to read also how many documents the commands answered (its `returned`)."""
    from core import db

    listener = listener or _Counting()
    db.connect(settings, listeners=[listener])
    try:
        yield listener.counts
    finally:
        db.connect(settings)


def listener():
    return _Counting()
