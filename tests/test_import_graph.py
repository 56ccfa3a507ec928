"""The house has no import circles, counting imports inside functions (DESIGN.md: the engine below, the cases
above; domain rooms never import delivery rooms). Read from the source with `ast`, so a late import hidden in a
function counts as much as one at the top, and so does one only a type checker runs (`if TYPE_CHECKING:`)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("api", "core", "designer", "forms", "storage", "workflows")
DOMAIN = ("core", "forms", "storage", "workflows")


def _modules() -> dict[str, Path]:
    found = {}
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(tree: ast.AST):
    """Every import statement, at any depth."""
    return (node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))


def graph() -> dict[str, set[str]]:
    modules = _modules()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:     # `from pkg import module` names the module itself
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else known(base))
        edges[name] = {t for t in targets if t and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_in_a_circle():
    assert cycles(graph()) == []


def test_the_checker_finds_a_circle_through_an_import_inside_a_function():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from workflows import instances\nif TYPE_CHECKING:\n    import api\n")
    assert sorted(ast.unparse(n) for n in _imports(tree)) == ["from workflows import instances", "import api"]


def test_domain_rooms_import_no_delivery_room():
    leaks = {name: sorted(t for t in targets if t.split(".")[0] in ("api", "designer"))
             for name, targets in graph().items() if name.split(".")[0] in DOMAIN}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_the_engine_room_imports_nothing_from_the_cases_room():
    edges = graph()
    engine = [name for name in edges if name.startswith("workflows.bpmn")]
    assert len(engine) > 15      # the room is where this test thinks it is
    leaks = {name: sorted(t for t in edges[name] if t.startswith("workflows.cases")) for name in engine}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_no_source_file_over_400_lines():
    long = {}
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            if "node_modules" not in path.parts and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400:
                long[str(path.relative_to(ROOT))] = lines
    assert long == {}
