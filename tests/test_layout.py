"""The house stays as it was built: imports go one way, no module imports one that (directly or
not) imports it back, and no module outgrows what one reader can hold.

Every `import` and `from ... import` of the project's packages counts, at module level or
inside a function; only imports under `if TYPE_CHECKING:` do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("agents", "teams", "retrieval", "taxonomies")
# Lower layers first; a module may import its own layer and the layers before it, never one after.
LAYERS = [
    "taxonomies",
    "retrieval",
    "agents",
    "teams.flows",
    "teams.runfolder",
    "teams.skills",
    "teams.engine",
    "teams.report",
    "teams.cli",
]
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The project module an imported name lands in (a module, or the package that holds a name)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str) -> set[str]:
    """The project modules `module` imports, wherever in the file the import is."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module; `from module import name` the module
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            names = []
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def layer_of(module: str) -> int:
    matches = [i for i, prefix in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".")]
    return max(matches) if matches else -1


def test_every_module_belongs_to_a_layer() -> None:
    outside = [m for m in MODULES if layer_of(m) < 0 and m != "teams"]
    assert outside == []


def test_imports_go_one_way() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )
    assert upward == []


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                walk(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            walk(module)
    assert [" -> ".join(cycle) for cycle in cycles] == []


def test_only_the_cli_imports_the_cli_and_the_lower_packages_never_import_teams() -> None:
    assert not [m for m, t in GRAPH.items() if not m.startswith("teams.cli") and any(x.startswith("teams.cli") for x in t)]
    lower = [m for m in GRAPH if m.split(".")[0] in ("agents", "retrieval", "taxonomies")]
    assert not [m for m in lower if any(t.split(".")[0] == "teams" for t in GRAPH[m])]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_400_lines(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module]}: {lines} lines"


def test_the_walker_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    """The checks above can fail: the walker finds a lazy import and ignores a TYPE_CHECKING one."""
    assert "teams.engine.workers" in GRAPH["teams.cli.run"]  # imported inside choose_processor
    assert "teams.engine.config" not in GRAPH["teams.skills.tool_use.skill"]  # only under TYPE_CHECKING
    assert layer_of("teams.engine.workers") > layer_of("teams.skills.tool_use.skill")
