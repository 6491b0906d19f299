"""The layering of the code, read from its source (every `import`, at module level or inside a
function): no cycle between the packages of `picket`; the shared schemas import nothing else of
Picket; the store imports no domain module; the pure core and the application layer import no
I/O; the gateway imports nothing from the worker side; `picket admin` imports nothing from the
gateway. A contract on a package also holds for everything it imports, directly or not.

(An import-linter configuration cannot say this: it finds a package's modules under one folder,
and `picket.schemas` is installed from `schemas/`, beside `picket` from `services/`.)
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"picket": ROOT / "services", "picket.schemas": ROOT / "schemas"}

IO = ("aiokafka", "faust", "clickhouse_connect", "chdb", "starlette", "uvicorn", "httpx", "socket")
CORE = ("picket.tenancy", "picket.monitors", "picket.ingest", "picket.application")
DOMAIN = ("picket.tenancy", "picket.monitors", "picket.ingest", "picket.stats", "picket.application")
SHELL = ("picket.agents", "picket.runtime", "picket.gateway", "picket.admin", "picket.worker", "picket.stack", "picket.cli")

# (what the contract says, source packages, forbidden packages: of picket or third-party)
CONTRACTS = [
    ("the shared schemas import nothing else of picket", ("picket.schemas",),
     ("picket.bus", "picket.store", "picket.config", *DOMAIN, *SHELL)),
    ("the store imports no domain module", ("picket.store",), (*DOMAIN, *SHELL)),
    ("the pure core and the application layer import no I/O", CORE,
     (*IO, "picket.store", "picket.bus", *SHELL)),
    ("the gateway imports nothing from the worker side", ("picket.gateway",),
     ("picket.agents", "picket.runtime", "picket.worker", "faust")),
    ("picket admin imports nothing from the gateway", ("picket.admin",), ("picket.gateway", "starlette")),
]


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((package, *parts))
            if package == "picket" and name.startswith("picket.schemas"):
                continue  # a folder named schemas under services/ would not be installed
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports: a module of picket by its full name, others by their top
    package."""
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            if target.startswith("picket"):
                while target and target not in MODULES:
                    target = target.rpartition(".")[0]
                if target:
                    out.add(target)
            else:
                out.add(target.split(".")[0])
    out.discard(name)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _chain_to_forbidden(start: str, forbidden: tuple[str, ...]) -> list[str] | None:
    """The shortest import chain from `start` to a forbidden module, if there is one."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for target in sorted(GRAPH.get(current, ())):
            if target in previous:
                continue
            previous[target] = current
            if _within(target, forbidden):
                chain = [target]
                while previous[chain[-1]] is not None:
                    chain.append(previous[chain[-1]])  # type: ignore[arg-type]
                return chain[::-1]
            if target in GRAPH:
                queue.append(target)
    return None


def test_the_source_is_read_whole() -> None:
    """The graph holds every package and sees both kinds of import (a check that can fail)."""
    assert {"picket.gateway.app", "picket.schemas.topics", "picket.store.client"} <= set(GRAPH)
    assert "picket.schemas.topics" in GRAPH["picket.bus.topics"]
    assert "aiokafka" in GRAPH["picket.bus.kafka"]
    assert _chain_to_forbidden("picket.gateway.app", ("aiokafka",)) is not None


@pytest.mark.parametrize(("contract", "sources", "forbidden"), CONTRACTS, ids=[c[0] for c in CONTRACTS])
def test_contract(contract: str, sources: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    broken = [
        " -> ".join(chain)
        for module in sorted(m for m in GRAPH if _within(m, sources))
        if (chain := _chain_to_forbidden(module, forbidden)) is not None
    ]
    assert not broken, f"{contract}, broken by:\n" + "\n".join(broken)


def _package(module: str) -> str:
    """The package of picket a module belongs to (`picket.schemas` counts as one of them)."""
    if module.startswith("picket.schemas"):
        return "picket.schemas"
    return ".".join(module.split(".")[:2])


def test_no_cycle_between_the_packages_of_picket() -> None:
    edges: dict[str, set[str]] = {}
    examples: dict[tuple[str, str], str] = {}
    for module, targets in GRAPH.items():
        for target in targets:
            if target in GRAPH and _package(target) != _package(module):
                edges.setdefault(_package(module), set()).add(_package(target))
                examples.setdefault((_package(module), _package(target)), f"{module} -> {target}")
    cycles = []
    for start in sorted(edges):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(edges.get(node, ())):
                if nxt == start:
                    cycles.append([*path, start])
                elif nxt not in path and nxt > start:  # each cycle once, from its smallest package
                    stack.append((nxt, [*path, nxt]))
    shown = ["; ".join(examples[(a, b)] for a, b in zip(c, c[1:])) for c in cycles]
    assert not cycles, "package cycles:\n" + "\n".join(shown)
