"""Upload-time checks of DMN files: what SpiffWorkflow's DMN parser would crash on or silently get wrong.

SpiffWorkflow reads one decision table per file, keys decisions by id across all files (the last file wins),
ignores decision requirements, and assumes the root is DMN 1.x: `<dmn/>` (no namespace) was a TypeError in our
XPath, two files with one decision id ran whichever came last, and two decisions in a file (a requirement cycle
needs two) failed with "'list' object has no attribute 'tag'". Every problem here names the file (and the DMN
element where there is one).
"""
from __future__ import annotations

from lxml import etree

from workflows.bpmn.sandbox import SandboxCompileError

# The DMN versions SpiffWorkflow 3.2 ships schemas for (SpiffWorkflow.dmn.parser.BpmnDmnParser.SCHEMAS).
DMN_NAMESPACES = ("http://www.omg.org/spec/DMN/20151101/dmn.xsd",      # DMN 1.1
                  "http://www.omg.org/spec/DMN/20180521/MODEL/",       # DMN 1.2
                  "https://www.omg.org/spec/DMN/20191111/MODEL/")      # DMN 1.3


def file_label(index: int, name: str | None) -> str:
    return f"'{name}'" if name else f"DMN file {index + 1}"


def root_problem(root) -> str | None:
    """Why this XML root is not a DMN 1.x document, or None."""
    if not isinstance(root.tag, str):
        return "is not a DMN document"
    qname = etree.QName(root)
    if qname.namespace not in DMN_NAMESPACES:
        found = f"namespace '{qname.namespace}'"[:120] if qname.namespace else "no namespace"
        return (f"is not DMN 1.1, 1.2 or 1.3: its root <{qname.localname[:60]}> has {found}; "
                f"expected <definitions xmlns=\"{DMN_NAMESPACES[-1]}\">")
    if qname.localname != "definitions":
        return f"is not a DMN document: the root must be <definitions>, not <{qname.localname[:60]}>"
    return None


def decisions(root) -> list:
    ns = etree.QName(root).namespace
    return root.findall(f".//{{{ns}}}decision")


def check_files(roots: list, names: list, called: list, sandbox, error, errors: list) -> None:
    """roots[i] is the parsed file /dmn/i (None if it did not parse); called: (label, root) of the DMN files that
    come with the processes the call activities bind to (they share one decision namespace at run time)."""
    where: dict[str, str] = {}
    for label, root in called:
        for decision in decisions(root):
            where.setdefault(decision.get("id"), label)
    graph: dict[str, list] = {}
    for index, root in enumerate(roots):
        if root is None:
            continue
        path, label = f"/dmn/{index}/xml", file_label(index, names[index])
        found = decisions(root)
        if not found:
            errors.append(error("no_decision", f"DMN file {label} holds no decision", path=path))
            continue
        if len(found) > 1:
            ids = ", ".join(str(d.get("id")) for d in found[:5])
            errors.append(error("multiple_decisions", f"DMN file {label} holds {len(found)} decisions ({ids}); "
                                "SpiffWorkflow runs one decision per file: put each in its own file",
                                found[1], path=path))
        for decision in found:
            ident = decision.get("id")
            if not ident:
                errors.append(error("no_decision_id", f"a decision in DMN file {label} has no id", decision,
                                    path=path))
                continue
            if ident in where:
                errors.append(error("duplicate_decision", f"decision '{ident}' is defined in both {where[ident]} "
                                    f"and {label}: which one runs would be unspecified", decision, path=path))
            else:
                where[ident] = label
            if decision.find(f"{{{etree.QName(root).namespace}}}decisionTable") is None:
                errors.append(error("unsupported_decision", f"decision '{ident}' in DMN file {label} has no "
                                    "decision table (only decision tables are supported)", decision, path=path))
            graph[ident] = [(r.get("href") or "").lstrip("#") for r in decision.iter()
                            if isinstance(r.tag, str) and etree.QName(r).localname == "requiredDecision"]
        if _check_tables(root, label, error, errors, path):
            _check_cells(root, sandbox, error, errors, path)
    cycle = _cycle(graph)
    if cycle:
        errors.append(error("decision_cycle", "the decision requirements form a cycle: " + " → ".join(cycle),
                            path=f"/dmn/{_file_of(cycle[0], roots)}/xml"))


def _file_of(decision_id: str, roots) -> int:
    for index, root in enumerate(roots):
        if root is not None and any(d.get("id") == decision_id for d in decisions(root)):
            return index
    return 0


def _cycle(graph: dict) -> list | None:
    """The first cycle in the requirement graph as a list of ids (first id repeated at the end), or None.
    Iterative depth-first search: a chain of thousands of decisions must not exhaust the stack."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    for start in graph:
        if state.get(start):
            continue
        path, stack = [start], [iter(graph.get(start, ()))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt) and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
    return None


HIT_POLICIES = ("UNIQUE", "FIRST", "ANY", "COLLECT")   # what SpiffWorkflow's DMNEngine implements


def _check_tables(root, label, error, errors, path) -> bool:
    """The shape SpiffWorkflow's DMNParser assumes without checking (it failed with a bare KeyError, IndexError or
    AttributeError naming no cell). True if the cells can be checked."""
    ns = etree.QName(root).namespace
    before = len(errors)

    def refuse(code, message, element):
        errors.append(error(code, f"DMN file {label}: {message}", element, path=path))

    for table in root.iter(f"{{{ns}}}decisionTable"):
        policy = (table.get("hitPolicy") or "UNIQUE").upper()
        if policy not in HIT_POLICIES:
            refuse("unsupported_hit_policy", f"hit policy {policy[:40]} is not supported (use "
                   f"{', '.join(HIT_POLICIES)})", table)
        if not table.get("id"):
            refuse("no_dmn_id", "a decision table without an id", table)
        if table.get("aggregation"):
            refuse("unsupported_hit_policy", "COLLECT with an aggregation is not supported", table)
        counts = {"input": 0, "output": 0}
        for child in table:
            kind = etree.QName(child).localname if etree.QName(child).namespace == ns else None
            if kind not in ("input", "output", "rule"):
                refuse("unsupported_dmn", f"<{etree.QName(child).localname[:60]}> in a decision table is not "
                       "supported (only input, output and rule)", child)
                continue
            if not child.get("id"):
                refuse("no_dmn_id", f"an {kind} without an id", child)
            if kind == "input" and child.find(f"{{{ns}}}inputExpression/{{{ns}}}text") is None:
                refuse("bad_dmn_cell", "an input without an inputExpression text", child)
            if kind != "rule":
                counts[kind] += 1
                continue
            for entry_kind, column in (("inputEntry", "input"), ("outputEntry", "output")):
                entries = child.findall(f"{{{ns}}}{entry_kind}")
                if len(entries) != counts[column]:
                    refuse("bad_dmn_rule", f"the rule has {len(entries)} {entry_kind} cells for "
                           f"{counts[column]} {column} columns (declared before it)", child)
                for entry in entries:
                    if not entry.get("id"):
                        refuse("no_dmn_id", f"an {entry_kind} without an id", entry)
                    if entry.find(f"{{{ns}}}text") is None:
                        refuse("bad_dmn_cell", f"an {entry_kind} without a text", entry)
    return len(errors) == before


def _check_cells(root, sandbox, error, errors, path):
    """Compile every cell as the engine will run it (SpiffWorkflow.dmn.engine.DMNEngine.evaluate)."""
    ns = {"dmn": etree.QName(root).namespace}

    def report(element, message):
        errors.append(error("bad_dmn_cell", message, element, path=path))

    for table in root.xpath(".//dmn:decisionTable", namespaces=ns):
        inputs = [(t.text or "").strip() for t in table.xpath("./dmn:input/dmn:inputExpression/dmn:text",
                                                               namespaces=ns)]
        for text in table.xpath("./dmn:input/dmn:inputExpression/dmn:text", namespaces=ns):
            _compile(sandbox, text.text, text, report, "input expression")
        for text in table.xpath("./dmn:rule/dmn:outputEntry/dmn:text", namespaces=ns):
            _compile(sandbox, text.text, text, report, "output entry")
            if text.text and text.text.strip() and text.text != text.text.strip():
                report(text, "output entry: remove the spaces or line breaks around it (SpiffWorkflow reads it "
                             "as is)")
        for rule in table.xpath("./dmn:rule", namespaces=ns):
            for column, text in enumerate(rule.xpath("./dmn:inputEntry/dmn:text", namespaces=ns)):
                entry = (text.text or "").strip()
                if entry in ("", "-"):
                    continue
                given = inputs[column] if column < len(inputs) and inputs[column] else "dmninputexpr"
                if "?" in entry:
                    _compile(sandbox, entry.replace("?", "dmninputexpr"), text, report, "input entry")
                    continue
                try:
                    sandbox.compile(entry, "eval")
                    combined = f"({given}) == ({entry})"
                except SandboxCompileError:
                    combined = f"{given} {entry}"      # DMN's "> 5" style: the engine puts the input in front
                _compile(sandbox, combined, text, report, "input entry")


def _compile(sandbox, text, element, report, label):
    if text is None or not text.strip():
        return
    try:
        sandbox.compile(text, "eval")
    except SandboxCompileError as e:
        report(element, f"{label}: {e.msg}")
