"""The database connection (mongoengine over pymongo)."""
from __future__ import annotations

import mongoengine
from pymongo.uri_parser import parse_uri

from core.settings import Settings

DEFAULT_DB = "zhangban"
_embedded = None


def resolve_uri(settings: Settings) -> str:
    """The configured URI, or the embedded server's (found running, or started and owned by this process)."""
    global _embedded
    if settings.mongodb_uri:
        return settings.mongodb_uri
    if _embedded is None:
        from core.embedded import EmbeddedMongo
        _embedded = EmbeddedMongo(settings.data_dir)
    return _embedded.ensure()


def owns_embedded_server() -> bool:
    """Whether this process started the embedded server it uses (rather than finding another's running)."""
    return _embedded is not None and _embedded.server is not None


def connect(settings: Settings, *, uri: str | None = None, listeners=()):
    """Connect the default mongoengine alias; returns the pymongo Database. `listeners`: pymongo command
    listeners (the benchmarks and tests count commands with them)."""
    uri = uri or resolve_uri(settings)
    db_name = parse_uri(uri).get("database") or DEFAULT_DB
    mongoengine.disconnect()
    mongoengine.connect(host=uri, db=db_name, tz_aware=True, uuidRepresentation="standard",
                        serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, socketTimeoutMS=30000,
                        **({"event_listeners": list(listeners)} if listeners else {}))
    return mongoengine.get_db()


def database():
    return mongoengine.get_db()
