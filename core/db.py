"""The database connection (mongoengine over pymongo)."""
from __future__ import annotations

import mongoengine
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from pymongo.uri_parser import parse_uri

from core import clock
from core.errors import NotFound
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


def upsert_and_read(queryset, **update):
    """`queryset.modify(upsert=True, new=True, **update)` that survives racing first writes of one document (see
    `upsert_and_read_raw`); mongoengine's update words (`inc__n=1`) are turned into the driver's first."""
    from mongoengine.queryset import transform

    raw = upsert_and_read_raw(queryset._collection, queryset._query,
                              transform.update(queryset._document, **update))
    return queryset._document._from_son(raw)


def upsert_and_read_raw(collection, query: dict, update: dict) -> dict:
    """The document after an upsert of `update` into the one `query` names, straight through the driver (hot
    paths: the flood brakes, the engine's budget).

    MongoDB lets the loser of a racing upsert fail with a duplicate key (nothing applied: ask again).
    SecantusDB applies the loser's update yet answers "no document" (measured: 8 threads $inc-ing one new
    counter reached 8 while half of them got None); the document exists by then, so it is read back.
    """
    for _ in range(3):
        try:
            document = collection.find_one_and_update(query, update, upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            continue
        document = document or collection.find_one(query)
        if document is not None:
            return document
    raise RuntimeError(f"upsert into {collection.name} kept losing races")


def found(documents, object_id, **filters):
    """The document with this id (as a URL gives it) that also matches `filters`, or NotFound — the same for an
    id that is no ObjectId, so a stranger's object and a malformed id answer alike. `documents`: a Document class
    or a QuerySet (e.g. with `.exclude(...)`)."""
    oid = clock.parse_id(object_id)
    query = documents.objects if isinstance(documents, type) else documents
    document = query(id=oid, **filters).first() if oid else None
    if document is None:
        raise NotFound()
    return document
