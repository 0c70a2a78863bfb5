"""The import graph reads straight down: no upward import and no cycle, function bodies included.

Every ``import`` statement of every module under ``src/crossmargin`` is read from its syntax tree
— at module level, inside functions, under ``if TYPE_CHECKING`` — and checked against the
layers below (lowest first; a module may import its own layer and the layers under it).
docs/architecture.md draws the same stack; ``make test`` also runs import-linter's layers
contract (``.importlinter``) as a second, independent check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "crossmargin"

#: Lowest first. A unit is a top-level module or package of ``crossmargin``. Units not created
#: yet are listed where they will live (``live``: the live engine, ``service``: the HTTP
#: service).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "errors",
            "limits",
            "_typing",
            "_arrays",
            "_time",
            "_format",
            "_validation",
            "_checks",
            "_tabular",
            "_lazy",
            "_closing",
            "limits",
            "ranges",
            "config",
            "history",
            "data",
        ),
    ),
    # the durable store (journal, snapshots, events, API keys) stands on the error tree alone
    ("store", ("store",)),
    ("kernels", ("kernels",)),
    ("instruments / market", ("instruments", "market", "liquidity")),
    ("collateral", ("collateral",)),
    ("resolve", ("resolve",)),
    ("scenarios", ("scenarios",)),
    ("risk", ("risk",)),
    ("margin", ("margin",)),
    ("account", ("account",)),
    ("engine", ("engine", "pricing", "comparison", "explain", "whatif", "plot")),
    ("liquidation / backtest", ("liquidation", "backtest")),
    ("io", ("io",)),
    ("scale", ("scale",)),
    ("venues", ("venues", "crossvenue")),
    # the live engine stands on the edge: its inputs are decoded by io's one decoder of each
    # format (portfolio JSON, Pyth records)
    ("live", ("live",)),
    ("cli / service", ("cli", "service", "__init__", "__main__")),
)
LAYER_OF = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["crossmargin", *parts])] = path
    return out


MODULES = _modules()


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """``(imported crossmargin module, line)`` of every import statement anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "crossmargin":
                    yield _known(alias.name), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "crossmargin":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in MODULES else _known(target)), node.lineno


def _known(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


GRAPH = {m: sorted(set(_imports(m, p))) for m, p in MODULES.items()}


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in MODULES}
    assert units <= set(LAYER_OF), f"add to LAYERS: {sorted(units - set(LAYER_OF))}"


def test_no_upward_import() -> None:
    bad = []
    for mod, targets in GRAPH.items():
        lo = LAYER_OF[_unit(mod)]
        for target, line in targets:
            hi = LAYER_OF[_unit(target)]
            if hi > lo:
                bad.append(
                    f"{MODULES[mod].relative_to(SRC.parent)}:{line}: {mod} ({LAYERS[lo][0]}) "
                    f"imports {target} ({LAYERS[hi][0]})"
                )
    assert not bad, "upward imports:\n" + "\n".join(bad)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


@pytest.mark.parametrize("level", ["module", "unit"])
def test_no_import_cycle(level: str) -> None:
    edges: dict[str, set[str]] = {}
    for mod, targets in GRAPH.items():
        a = mod if level == "module" else _unit(mod)
        for target, _ in targets:
            b = target if level == "module" else _unit(target)
            if a != b:
                edges.setdefault(a, set()).add(b)
    cycles = _cycles(edges)
    assert not cycles, f"{level} import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    src = "def f():\n    from crossmargin.cli.app import app\n    return app\n"
    path = tmp_path / "mod.py"
    path.write_text(src)
    assert ("crossmargin.cli.app", 2) in list(_imports("crossmargin.kernels.mod", path))
