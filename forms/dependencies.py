"""Which fields a condition reads, and in what order each object's fields are decided.

`x-visible-if` may read siblings (decided first), fields inside sibling groups (`address.detail`), and, from
anywhere, root fields (`$.kind`); a root field holding a group whose conditions read `$.x` is decided after x.
"""
from __future__ import annotations

from forms import conditions


def check_and_order(fields, root_fields, error) -> None:
    """Check that every name a condition reads resolves to a field (not itself), and put each object's fields
    in the order they must be decided: after the fields their x-visible-if reads. Errors go to `error`."""
    by_name = {f.name: f for f in fields}
    deps = {f.name: set() for f in fields}
    for f in fields:
        for tree, key in ((f.visible_if, "x-visible-if"), (f.required_if, "x-required-if")):
            if tree is None:
                continue
            for ref in conditions.references(tree):
                scope, parts = (root_fields, ref[2:].split(".")) if ref.startswith("$.") else (fields, ref.split("."))
                target = _resolve(scope, parts)
                if target is None:
                    error(f"{f.pointer}/{key}", "unknown_field", f"the condition names {ref!r}, not a field")
                elif target is f:
                    error(f"{f.pointer}/{key}", "condition_cycle", "a field's condition names itself")
                elif scope is fields and key == "x-visible-if":
                    deps[f.name].add(parts[0])  # decide that sibling first
        if f.children:
            check_and_order(f.children, root_fields, error)
    for f in fields:  # a root field whose inner conditions read $.x is evaluated after x
        if fields is root_fields:
            for ref in _nested_root_refs(f):
                if ref != f.name and ref in by_name:
                    deps[f.name].add(ref)
    order = _topological(fields, deps)
    if order is None:
        error(fields[0].pointer.rsplit("/properties/", 1)[0] or "", "condition_cycle",
                   "x-visible-if conditions wait on each other in a circle")
    else:
        fields[:] = order


def _nested_root_refs(f):
    for child in f.children:
        for tree in (child.visible_if, child.required_if):
            if tree is not None:
                yield from (r[2:].split(".")[0] for r in conditions.references(tree) if r.startswith("$."))
        yield from _nested_root_refs(child)


def _resolve(fields, parts):
    """The field a dotted name reaches (into groups, or an address's region/detail), or None."""
    scope = fields
    for i, part in enumerate(parts):
        target = next((f for f in scope if f.name == part and f.kind != "readonly"), None)
        rest = parts[i + 1:]
        if target is None or not rest:
            return target
        if target.kind == "address":
            return target if rest in (["region"], ["detail"]) else None
        if target.kind != "group":
            return None
        scope = target.children
    return None


def _topological(fields, deps):
    """Declaration order, except that a field comes after the fields its visibility reads; None on a cycle."""
    placed, order, pending = set(), [], list(fields)
    while pending:
        ready = next((f for f in pending if deps[f.name] <= placed), None)
        if ready is None:
            return None
        placed.add(ready.name)
        order.append(ready)
        pending.remove(ready)
    return order
