"""The floors of DESIGN.md, read from the code: no module imports a higher floor (lazy imports inside
functions count too), packages of one floor stay apart (but the entry points: `cli serve` starts the app),
and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {
    "settings": 0,
    "basics": 0,
    "geo": 1,
    "models": 1,
    "indexing": 2,
    "search": 3,
    "services": 4,
    "ui": 4,
    "app": 5,
    "cli": 5,
    "routes": 5,
}


def modules() -> dict[str, Path]:
    out = {}
    for top in FLOORS:
        if (ROOT / f"{top}.py").is_file():
            out[top] = ROOT / f"{top}.py"
        for p in sorted((ROOT / top).rglob("*.py")) if (ROOT / top).is_dir() else []:
            if "data" in p.relative_to(ROOT).parts:  # build scripts beside shipped data are not the app
                continue
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            out[name] = p
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            while n and n not in known:
                n = n.rpartition(".")[0]
            if n:
                found.add(n)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(p, set(mods)) - {m} for m, p in mods.items()}


def test_no_module_imports_a_higher_floor_or_a_sibling_package() -> None:
    bad = []
    for mod, deps in graph().items():
        top = mod.split(".")[0]
        for d in deps:
            other = d.split(".")[0]
            sibling = FLOORS[other] == FLOORS[top] and other != top and FLOORS[top] < 5  # entry points may meet
            if FLOORS[other] > FLOORS[top] or sibling:
                bad.append(f"{mod} (floor {FLOORS[top]}) imports {d} (floor {FLOORS[other]})")
    assert bad == [], "\n".join(sorted(bad))


def test_no_import_cycles() -> None:
    g = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_the_web_layer_stays_in_small_pieces() -> None:
    """Routes, components and the app: no function over 60 lines; no module of the app over about 400."""
    long_functions = []
    for mod, path in modules().items():
        text = path.read_text()
        assert text.count("\n") <= 420, f"{mod} has {text.count(chr(10))} lines"
        if mod.split(".")[0] not in ("app", "routes", "ui"):
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60:
                long_functions.append(f"{mod}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert long_functions == []
