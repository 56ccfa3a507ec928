"""Code-keyed drafts with a body, published as numbered immutable versions: what services (workflows/cases/catalog) and
一件事 bundles (workflows/cases/bundles) share. Each room says which documents it keeps (a draft with code, department,
body, status, published_version and an ETag `version`; versions with code, version and current) and its name,
which prefixes its error codes and audit actions ("service.archived", "bundle.draft.update").

Who may do what: designers of the draft's department and admins; a designer of another department gets 404 for
the draft; anyone without the designer role 403.

Publishing runs in an order that a crash anywhere leaves a state the next publish mends: (1) the draft takes the
number, conditionally on the version read (a stale If-Match, a concurrent edit, publish or archive loses here
and nothing is written); (2) the version is inserted as current; (3) older versions stop being current. A crash
after (1) leaves a gap in the numbers; after (2), two current versions, of which the newest answers and the next
publish or archive clears the older.
"""
from __future__ import annotations

from dataclasses import dataclass

from mongoengine.errors import NotUniqueError

from core import audit, clock
from core.actor import Actor
from core.errors import Conflict, Forbidden, NotFound, PreconditionFailed


@dataclass(frozen=True)
class Drafts:
    name: str           # "service", "bundle"
    draft_model: type
    version_model: type
    internal: tuple = ()    # version fields no designer reads (a service's search keys)

    def find(self, actor: Actor, code: str):
        actor.require_designer()
        draft = self.draft_model.objects(code=code).first()
        if draft is None or not actor.may_design(draft.department):
            raise NotFound()
        return draft

    def create(self, actor: Actor, code: str, department: str, body):
        actor.require_designer()
        if not actor.may_design(department):
            raise Forbidden(f"{self.name}.not_your_department")
        draft = self.draft_model(code=code, department=department, body=body, created_by=actor.user_id)
        try:
            draft.save(force_insert=True)
        except NotUniqueError:
            key = f"{self.name}.code_taken"
            raise Conflict(key, errors=[{"path": "/code", "code": "taken", "message": key}]) from None
        audit.record(actor, f"{self.name}.draft.create", self.name, code, department=department)
        return draft

    def update(self, actor: Actor, code: str, expected_version: int, values: dict, body_of):
        """Change the draft's body (`body_of(values, old body)`) if it is still at `expected_version` (the
        If-Match ETag); 412 otherwise."""
        draft = self.find(actor, code)
        if draft.status == "archived":
            raise Conflict(f"{self.name}.archived")
        body = body_of(values, draft.body)
        if draft.version != expected_version or not self.draft_model.objects(
                id=draft.id, version=expected_version).update_one(set__body=body, set__updated_at=clock.now(),
                                                                  inc__version=1):
            raise PreconditionFailed()
        audit.record(actor, f"{self.name}.draft.update", self.name, code, version=expected_version + 1,
                     changed=sorted(values))
        return draft.reload()

    def publishable(self, actor: Actor, code: str, expected_version: int | None):
        """The draft, if it may be published now (not archived, still at the If-Match version)."""
        draft = self.find(actor, code)
        if draft.status == "archived":
            raise Conflict(f"{self.name}.archived")
        if expected_version is not None and expected_version != draft.version:
            raise PreconditionFailed()
        return draft

    def claim_number(self, draft, expected_version: int | None) -> int:
        """Step (1): the draft takes the next version number."""
        newest = self.version_model.objects(code=draft.code).only("version").order_by("-version").first()
        number = max(draft.published_version or 0, newest.version if newest else 0) + 1
        if not self.draft_model.objects(id=draft.id, version=draft.version, status__ne="archived").update_one(
                set__published_version=number, set__status="published", inc__version=1):
            if expected_version is not None:
                raise PreconditionFailed()
            raise Conflict(f"{self.name}.publish_raced")   # someone changed, published or archived it first
        return number

    def make_current(self, draft, published) -> None:
        """Steps (2) and (3): insert the new version as current, then retire the older ones."""
        try:
            published.save(force_insert=True)
        except NotUniqueError:
            raise Conflict(f"{self.name}.publish_raced") from None
        self.version_model.objects(code=draft.code, version__lt=published.version, current=True).update(
            set__current=False)
        # An archive that landed between (1) and (2) cleared the versions before ours existed: take ours out too.
        if self.draft_model.objects(id=draft.id, status="archived").only("id").first():
            self.version_model.objects(id=published.id).update_one(set__current=False)
            raise Conflict(f"{self.name}.archived")

    def versions(self, actor: Actor, code: str):
        """The published versions of a draft one may design, newest first."""
        self.find(actor, code)
        return self.version_model.objects(code=code).exclude(*self.internal).order_by("-version")

    def version(self, actor: Actor, code: str, number: int):
        """One published version of a draft one may design; NotFound for a number never published."""
        self.find(actor, code)
        found = self.version_model.objects(code=code, version=number).exclude(*self.internal).first()
        if found is None:
            raise NotFound()
        return found

    def archive(self, actor: Actor, code: str, expected_version: int | None = None):
        """No more edits or publishing, and no current version. Published versions stay readable by number."""
        draft = self.find(actor, code)
        if draft.status != "archived":
            query = {"id": draft.id, "version": draft.version if expected_version is None else expected_version}
            if not self.draft_model.objects(**query).update_one(set__status="archived", set__updated_at=clock.now(),
                                                                 inc__version=1):
                raise PreconditionFailed()
            audit.record(actor, f"{self.name}.archive", self.name, code)
        # Also when already archived: mends a crash between the two writes.
        self.version_model.objects(code=code, current=True).update(set__current=False)
        return draft.reload()
