"""Every problem of a bundle draft, each named by a JSON pointer into the draft's body.

    problems = checks.problems(body)     # [] when it may be published; items {path, code, message}

The parts' services must be published and current (any department's: a bundle composes other departments'
services); `depends_on` names other parts and makes no cycle; each shared field maps parts to top-level fields of
their services' forms, of one kind.
"""
from __future__ import annotations

import re

from core.errors import NotFound
from workflows.cases.bundles.models import BundleBody

KEY = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
MIN_PARTS, MAX_PARTS = 2, 20


def _problem(path: str, code: str) -> dict:
    return {"path": path, "code": code, "message": f"bundle.{code}"}


def _top_fields(service_version) -> dict:
    """Top-level field name → (kind, widget) of the service's published form."""
    from forms import service as forms
    from forms import validation

    form = forms.get_published(service_version.body.form_key, service_version.body.form_version)
    return {f.name: (f.kind, f.widget) for f in validation.compiled(form).form.fields}


def _cycle(graph: dict) -> list | None:
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if not state.get(nxt):
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in graph:
        if not state.get(start):
            found = visit(start, [start])
            if found:
                return found
    return None


def resolve(body: BundleBody, errors: list | None = None) -> dict:
    """Part key → the current ServiceVersion of its service (problems appended for those that have none)."""
    from workflows.cases.catalog import service as catalog

    found = {}
    for i, part in enumerate(body.parts):
        try:
            found[part.key] = catalog.get_current(part.service_code)
        except NotFound:
            if errors is not None:
                errors.append(_problem(f"/parts/{i}/service_code", "service_not_published"))
    return found


def problems(body: BundleBody) -> list[dict]:
    errors: list[dict] = []
    parts = list(body.parts)
    if not MIN_PARTS <= len(parts) <= MAX_PARTS:
        errors.append(_problem("/parts", "part_count"))
    keys, codes = set(), set()
    for i, part in enumerate(parts):
        if not KEY.match(part.key or "") or part.key in keys:
            errors.append(_problem(f"/parts/{i}/key", "bad_part_key" if not KEY.match(part.key or "")
                                   else "duplicate_part"))
        if part.service_code in codes:
            errors.append(_problem(f"/parts/{i}/service_code", "duplicate_service"))
        keys.add(part.key)
        codes.add(part.service_code)
    for i, part in enumerate(parts):
        for j, needed in enumerate(part.depends_on):
            if needed not in keys or needed == part.key:
                errors.append(_problem(f"/parts/{i}/depends_on/{j}", "unknown_part"))
    cycle = _cycle({p.key: [d for d in p.depends_on if d in keys and d != p.key] for p in parts})
    if cycle:
        at = next(i for i, p in enumerate(parts) if p.key == cycle[0])
        errors.append({**_problem(f"/parts/{at}/depends_on", "dependency_cycle"), "cycle": cycle})
    services = resolve(body, errors)
    fields = {key: _top_fields(sv) for key, sv in services.items()}
    shared_keys, used = set(), {}
    for i, shared in enumerate(body.shared_fields):
        at = f"/shared_fields/{i}"
        if shared.key in shared_keys or not KEY.match(shared.key or ""):
            errors.append(_problem(f"{at}/key", "duplicate_shared" if shared.key in shared_keys else "bad_shared_key"))
        shared_keys.add(shared.key)
        if len(shared.fields) < 2:
            errors.append(_problem(f"{at}/fields", "shared_needs_two_parts"))
        kinds = set()
        for part_key, name in shared.fields.items():
            where = f"{at}/fields/{part_key}"
            if part_key not in keys:
                errors.append(_problem(where, "unknown_part"))
                continue
            if part_key not in fields:
                continue        # the service is missing: reported on the part
            if name not in fields[part_key]:
                errors.append(_problem(where, "unknown_field"))
                continue
            if (part_key, name) in used:
                errors.append(_problem(where, "field_shared_twice"))
            used[(part_key, name)] = shared.key
            kinds.add(fields[part_key][name])
        if len(kinds) > 1:
            errors.append(_problem(f"{at}/fields", "shared_kind_mismatch"))
    return errors
