"""The import structure of docs/architecture.md holds, and its checks can fail.

`lint-imports` (pyproject.toml's contracts) checks the layers, the pure reception core and the
simulator's distance; here: no cycle between files or packages (a layer may hold a package
whose files import each other in a circle, which the layers contract cannot see), the
simulator's exact whitelist, a deliberately wrong import breaking each contract, and no private
module of another package (`_csv`) imported at run time. Every import counts, nested and
TYPE_CHECKING ones included (grimp reads them all).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SIMULATOR_MAY_IMPORT = {"kefu.clock", "kefu.threaded_server", "kefu.wecom.crypto"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("kefu", include_external_packages=False)


def cycles(nodes: Iterable[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
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


def test_cycle_finder_finds_a_circle() -> None:
    assert cycles("abcd", {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles("ab", {"a": {"b"}}) == []


def _is_package(graph: grimp.ImportGraph, module: str) -> bool:
    return any(m.startswith(module + ".") for m in graph.modules)


def test_no_cycle_between_files(graph: grimp.ImportGraph) -> None:
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        imported = graph.find_modules_directly_imported_by(module)
        # A package's __init__ re-exporting its own children is not a circle between files.
        if _is_package(graph, module):
            imported = {m for m in imported if not m.startswith(module + ".")}
        edges[module] = set(imported)
    assert cycles(sorted(graph.modules), edges) == []


def test_no_cycle_between_packages(graph: grimp.ImportGraph) -> None:
    def top(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if top(imported) != top(module):
                edges.setdefault(top(module), set()).add(top(imported))
    assert cycles(sorted({top(m) for m in graph.modules}), edges) == []


def test_the_simulator_imports_only_its_whitelist(graph: grimp.ImportGraph) -> None:
    inside = {m for m in graph.modules if m == "kefu.simulator" or m.startswith("kefu.simulator.")}
    reached = set().union(*(graph.find_modules_directly_imported_by(m) for m in inside)) - inside
    assert reached <= SIMULATOR_MAY_IMPORT, sorted(reached - SIMULATOR_MAY_IMPORT)


def test_the_contracts_hold() -> None:
    result = subprocess.run([LINT_IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("file", "wrong_import", "contract"),
    [
        ("db/engine.py", "import kefu.reception.models", "Layers"),
        ("accounts/sync.py", "from kefu.ingest import tasks", "Layers"),
        ("reception/core/state.py", "import kefu.accounts.knowledge_base", "reception core is pure"),
        ("simulator/core.py", "import kefu.settings", "simulator stands apart"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, file: str, wrong_import: str, contract: str
) -> None:
    """On a copy of the package (never the checkout: other tests read it meanwhile)."""
    shutil.copytree(
        ROOT / "src" / "kefu", tmp_path / "src" / "kefu", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "kefu" / file
    target.write_text(target.read_text() + f"\n{wrong_import}  # a deliberately wrong import\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    result = subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0, result.stdout
    # The contract list names each one, then KEPT or BROKEN (wrapped across lines at 80 columns).
    listing = " ".join(result.stdout.split())
    verdict = listing[listing.index(contract) :].split(" ")
    assert next(w for w in verdict if w in ("KEPT", "BROKEN")) == "BROKEN", result.stdout


def _run_time_imports(node: ast.AST) -> Iterable[tuple[int, str]]:
    """(line, module) of each import that runs: those under `if TYPE_CHECKING:` never do."""
    if isinstance(node, ast.Import):
        yield from ((node.lineno, alias.name) for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        yield node.lineno, node.module
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            children: list[ast.AST] = list(child.orelse)
        else:
            children = [child]
        for each in children:
            yield from _run_time_imports(each)


def test_no_private_module_of_another_package_is_imported_at_run_time() -> None:
    """A leading underscore is a package's "not for you": `_csv` was imported for a reader's type,
    which `csv` does not name (a type may still come from it under TYPE_CHECKING)."""
    private = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / "src" / "kefu").rglob("*.py"))
        for line, module in _run_time_imports(ast.parse(path.read_text(encoding="utf-8")))
        if module != "__future__"
        and not module.startswith("kefu.")
        and any(part.startswith("_") for part in module.split("."))
    ]
    assert private == []
