"""Upload-time limits on the shape of a process: what SpiffWorkflow, the sandbox or MongoDB would otherwise meet
only when an instance runs (a 500, a recursion error reported as invalid BPMN, a start blamed on its data).

- ids and names: every element's id is stored in each instance's path and state, once per task; a
  process with 20 KB ids looping a hundred times made an 18 MB instance document (MongoDB stops at 16 MB).
- elements and fan-out: SpiffWorkflow creates a task for every element ahead of time, once per path through
  parallel branches, when an instance starts: thousands of branches outgrew the state limit before any data.
- chain length: SpiffWorkflow's parser and its planning of future tasks recurse once per element along a path;
  about 475 elements in a row hit Python's recursion limit.
- timer cycles: a cycle whose period is zero (`R/PT0S`, `R5/PT0S`) is due again the moment it fires, and spent
  its action's whole CPU budget firing; a written-out cycle is checked here, a computed one when it runs
  (workflows/bpmn/sandbox.py `_check_timer`, engine/timers.py).
All walks here are iterative.
"""
from __future__ import annotations

import ast

from lxml import etree

MAX_ID = 200              # characters of an element id (BPMN or DMN)
MAX_NAME = 500            # characters of an element name
MAX_FLOW_NODES = 1000     # events, tasks, gateways, subprocesses in one file
MAX_OUTGOING = 100        # sequence flows leaving one element
MAX_CHAIN = 300           # elements on the longest path through a process or subprocess (loops not counted)

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def check_names(roots: list, error, errors: list, paths: list) -> None:
    """ids and names beyond the limits, in the BPMN file (paths[0]) and each DMN file."""
    for root, path in zip(roots, paths):
        if root is None:
            continue
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            ident, name = element.get("id") or "", element.get("name") or ""
            if len(ident) > MAX_ID:
                errors.append(error("id_too_long", f"an id of {len(ident)} characters (at most {MAX_ID}): "
                                    f"'{ident[:40]}…'", element_id="", path=path, line=element.sourceline))
            if len(name) > MAX_NAME:
                errors.append(error("name_too_long", f"a name of {len(name)} characters (at most {MAX_NAME})",
                                    element, path=path))


def check_shape(processes: list, flow_node_tags: set, error, errors: list) -> None:
    """Element count, fan-out and the longest path, per process and subprocess."""
    nodes_in_file = 0
    for process in processes:
        for scope in [process, *process.iter(f"{{{BPMN}}}subProcess")]:
            children = [c for c in scope if isinstance(c.tag, str)]
            nodes = {c.get("id"): c for c in children if etree.QName(c).localname in flow_node_tags and c.get("id")}
            nodes_in_file += len(nodes)
            outgoing: dict[str, list] = {ident: [] for ident in nodes}
            for flow in scope.findall(f"{{{BPMN}}}sequenceFlow"):
                source, target = flow.get("sourceRef"), flow.get("targetRef")
                if source in outgoing and target in nodes:
                    outgoing[source].append(target)
            for ident, targets in outgoing.items():
                if len(targets) > MAX_OUTGOING:
                    errors.append(error("fan_out", f"{len(targets)} sequence flows leave this element (at most "
                                        f"{MAX_OUTGOING}): every branch is planned ahead as tasks when an "
                                        "instance starts; use a multi-instance task over a list",
                                        nodes[ident]))
            longest = _longest_path(outgoing)
            if longest is not None:
                length, at = longest
                if length > MAX_CHAIN:
                    errors.append(error("chain_too_long", f"a path of {length} elements in a row (at most "
                                        f"{MAX_CHAIN}; SpiffWorkflow follows paths recursively): move parts into "
                                        "subprocesses or call activities", nodes[at]))
    if nodes_in_file > MAX_FLOW_NODES:
        errors.append(error("too_many_elements", f"{nodes_in_file} elements (at most {MAX_FLOW_NODES} in one "
                            "file): split the process into call activities"))


def _longest_path(outgoing: dict) -> tuple[int, str] | None:
    """(number of elements on the longest path, the element where it ends), loops cut where a depth-first walk
    meets them: the path SpiffWorkflow's recursion follows is no longer than this."""
    order, state = [], {}
    for start in outgoing:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(outgoing[start]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(outgoing[nxt])))
    if not order:
        return None
    # order is a post-order: every forward target comes before its source; back edges (to a node still on the
    # walk, state 1 at the time) point to nodes later in the order and are skipped.
    position = {node: i for i, node in enumerate(order)}
    depth, end = {}, {}
    for node in order:
        best, tail = 1, node
        for target in outgoing[node]:
            if position[target] < position[node] and depth[target] + 1 > best:
                best, tail = depth[target] + 1, end[target]
        depth[node], end[node] = best, tail
    top = max(order, key=depth.__getitem__)
    return depth[top], end[top]


def zero_cycle(value: str) -> bool:
    """True for an ISO 8601 repeating interval whose period is zero or less ("R/PT0S", "R5/PT0S")."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    try:
        _, _, period = TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:   # noqa: BLE001 — not a cycle this check can read: the run-time check names it
        return False
    return period.total_seconds() <= 0


def check_timer_cycles(root, error, errors: list) -> None:
    """A timer cycle written as a text constant with a period of zero, named by its event."""
    for element in root.iter(f"{{{BPMN}}}timeCycle"):
        try:
            value = ast.literal_eval((element.text or "").strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue    # an expression: computed when the timer starts, and checked then
        if isinstance(value, str) and zero_cycle(value):
            errors.append(error("zero_timer_cycle", f"the timer cycle {value[:60]!r} repeats with a period of zero: "
                                "it would fire again at once, for ever; give it a period (e.g. R3/PT1H)", element))
