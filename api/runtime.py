"""What the running app holds: settings, the object store, the WeChat client. Set up once by create_app."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from core.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    store: object
    wechat: object
    extras: dict = field(default_factory=dict)


def runtime() -> Runtime:
    return current_app.extensions["zhangban"]


def settings() -> Settings:
    return runtime().settings
