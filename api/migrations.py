"""`zhangban migrate`: the database's indexes and its numbered data migrations, run once per deploy before the new
code serves (a one-shot service in docker-compose.yml, an init container in Kubernetes, `make run`; `zhangban
serve` runs it itself on the embedded database it owns).

Without it, mongoengine builds each collection's indexes on its first touch in every process: the first requests
after a deploy wait for a build, and an index whose options changed fails every request on its collection. So in
production the application processes create no index (`prepare_process`), and one that finds the database behind
its code — a migration it knows of not applied — refuses to start with one line saying so.

A migration is numbered, runs once, and is recorded in `schema_migrations` ({_id: number, name, applied_at});
each must be safe to run again (a crash between it and its record runs it twice). Then every model's indexes are
created; one whose options changed is dropped and built again.
"""
from __future__ import annotations

import logging

import mongoengine as me
from mongoengine.base.common import _document_registry
from pymongo.errors import OperationFailure, PyMongoError

from core import audit, clock
from core.settings import ConfigError

log = logging.getLogger(__name__)

COLLECTION = "schema_migrations"
INDEX_CONFLICT = (85, 86)       # IndexOptionsConflict, IndexKeySpecsConflict

def unset_empty_numbers() -> None:
    """Applications and licences without a number had it stored as null; their unique index is sparse now (the
    embedded database never used the partial one), so a number not given is left out instead."""
    for collection in ("applications", "materials"):
        me.get_db()[collection].update_many({"number": {"$type": "null"}}, {"$unset": {"number": ""}})


# (number, what it does, the function): append only, never renumber
def authorisation_statuses() -> None:
    """Authorisations stored before they had a status get the one they were read as: the resident's own grant
    active, an on-site one pending (the `$or` that read them so made every helper's list read them all)."""
    collection = me.get_db()["authorisations"]
    for kind, status in (("resident", "active"), ("on_site", "pending")):
        collection.update_many({"status": None, "kind": kind}, {"$set": {"status": status}})


MIGRATIONS = [
    (1, "audit: drop the first chain format's unique index on seq", audit.migrate),
    (2, "applications and licences: a number not given is unset, not null (sparse unique index)", unset_empty_numbers),
    (3, "authorisations: a status for those stored before statuses", authorisation_statuses),
]
LATEST = MIGRATIONS[-1][0]


class DatabaseBehind(ConfigError):
    """The database lacks migrations this code needs."""


ROOMS = ("core", "forms", "storage", "workflows", "api", "designer")
NOT_MODELS = ("__main__", "cli", "gunicorn_conf", "wsgi")     # modules that run something when imported


def import_every_model() -> None:
    """Import every module of every room, so that every model is known: the app imports some views (and their
    models) only as it registers them, and a command imports even fewer."""
    import importlib
    import pkgutil

    for room in ROOMS:
        package = importlib.import_module(room)
        for module in pkgutil.walk_packages(package.__path__, f"{room}."):
            if ".web" not in module.name and module.name.rpartition(".")[2] not in NOT_MODELS:
                importlib.import_module(module.name)


def models() -> list[type]:
    """Every collection's model (`import_every_model` first)."""
    import_every_model()
    found = {cls for cls in _document_registry.values()
             if issubclass(cls, me.Document) and not cls._meta.get("abstract") and cls._meta.get("collection")}
    return sorted(found, key=lambda cls: cls._meta["collection"])


def _records():
    return me.get_db()[COLLECTION]


def applied() -> set[int]:
    return set(_records().distinct("_id"))


def run(echo=log.info) -> dict:
    """Apply the migrations not yet applied, then create every index. Idempotent."""
    done = applied()
    ran = []
    for number, name, migration in MIGRATIONS:
        if number in done:
            continue
        migration()
        _records().update_one({"_id": number}, {"$setOnInsert": {"name": name, "applied_at": clock.now()}},
                              upsert=True)
        ran.append(number)
        echo(f"migration {number}: {name}")
    rebuilt, every = [], models()
    for model in every:
        try:
            model.ensure_indexes()
        except OperationFailure as exc:
            if exc.code not in INDEX_CONFLICT:
                raise
            # an index whose options changed: this collection's indexes are built again (before traffic)
            model._get_collection().drop_indexes()
            model.ensure_indexes()
            rebuilt.append(model._meta["collection"])
            echo(f"indexes of {model._meta['collection']} rebuilt: {exc.details.get('errmsg', '') if exc.details else ''}")
    return {"applied": ran, "rebuilt": rebuilt, "collections": len(every), "latest": LATEST}


def check() -> None:
    """Refuse to serve a database behind this code. A database that cannot be reached passes: /readyz says so,
    and the next start checks again."""
    try:
        missing = sorted({number for number, _, _ in MIGRATIONS} - applied())
    except PyMongoError:
        return
    if missing:
        raise DatabaseBehind(f"the database lacks migration(s) {', '.join(map(str, missing))} of this code "
                             f"(latest {LATEST}): run `zhangban migrate` first")


def prepare_process(settings) -> None:
    """At an application process's start: in production, no lazy index builds, and no serving a database behind
    the code. (Development and tests keep mongoengine's lazy builds: their databases come and go.)"""
    if not settings.is_production:
        return
    for model in models():
        model._meta["auto_create_index"] = False
    check()
