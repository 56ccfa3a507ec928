"""Counting the database commands an operation sends (pymongo command monitoring)."""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager

from pymongo import monitoring


class _Counting(monitoring.CommandListener):
    def __init__(self):
        self.counts: Counter = Counter()
        self.lock = threading.Lock()

    def started(self, event):
        target = event.command.get(event.command_name)
        with self.lock:
            self.counts[(event.command_name, target if isinstance(target, str) else "")] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@contextmanager
def counting_commands(settings):
    """Within the block the app's client counts {(command, collection): n}; reconnects without it after."""
    from core import db

    listener = _Counting()
    db.connect(settings, listeners=[listener])
    try:
        yield listener.counts
    finally:
        db.connect(settings)
