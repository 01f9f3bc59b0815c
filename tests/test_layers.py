"""Imports flow one way: every module of emc_bench imports only from its own layer or the layers
below it, in the order written in the README's architecture section, and no set of modules
imports itself in a circle. Function-level and TYPE_CHECKING imports count like any other."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import emc_bench

PACKAGE = Path(emc_bench.__file__).resolve().parent
README = PACKAGE.parent / "README.md"
LAYER_LINE = re.compile(r"^\s*(\d+)\.\s+([\w ]+):\s+(.+)$")


def layer_order(readme: str) -> dict[str, int]:
    """Component -> layer number, from the numbered list under the README's "### Layers" heading."""
    section = readme.split("### Layers", 1)[1].split("\n#", 1)[0]
    layers: dict[str, int] = {}
    for line in section.splitlines():
        match = LAYER_LINE.match(line)
        if match:
            for name in re.findall(r"`([\w.]+)`", match.group(3)):
                layers[name] = int(match.group(1))
    return layers


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str, known: set[str]) -> set[str]:
    """The emc_bench modules that ``path`` imports anywhere in its body."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            # `from . import x` names a module when x is one, else an attribute of the package
            targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    known = set(files)
    return {name: imports_of(path, name, known) for name, path in files.items()}


def component(module: str) -> str:
    """``emc_bench.judge.runner`` -> ``judge``; ``emc_bench`` itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        if component(module) not in layers:
            problems.append(f"{module}: not placed in any layer of the README")
            continue
        for target in sorted(targets):
            if layers.get(component(target), 0) > layers[component(module)]:
                problems.append(f"{module} (layer {layers[component(module)]}) imports {target} "
                                f"(layer {layers[component(target)]})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_imports_only_downward_and_nothing_imports_itself_in_a_circle():
    graph = import_graph()
    layers = layer_order(README.read_text(encoding="utf-8"))
    assert len(set(layers.values())) >= 8, "the README lists the layers"
    assert upward_imports(graph, layers) == []
    assert cycles(graph) == []


def test_the_checks_catch_a_planted_upward_import_and_a_planted_cycle(tmp_path):
    """A throwaway package with an upward function-level import, a TYPE_CHECKING import and a
    two-module cycle: the same checks that pass on emc_bench must flag all three."""
    root = tmp_path / "emc_bench"
    (root / "judge").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "specs.py").write_text("def f():\n    from .report import render\n")
    (root / "report.py").write_text("from .judge import runner\nfrom typing import TYPE_CHECKING\n"
                                    "if TYPE_CHECKING:\n    from .commands import main\n")
    (root / "commands.py").write_text("from . import report\n")
    (root / "judge" / "__init__.py").write_text("")
    (root / "judge" / "runner.py").write_text("from . import cache\n")
    (root / "judge" / "cache.py").write_text("from .runner import x\n")
    graph = import_graph(root)
    layers = {"__init__": 1, "specs": 1, "judge": 2, "report": 3, "commands": 4}
    problems = upward_imports(graph, layers)
    assert "emc_bench.specs (layer 1) imports emc_bench.report (layer 3)" in problems
    assert "emc_bench.report (layer 3) imports emc_bench.commands (layer 4)" in problems
    assert len(problems) == 2
    assert sorted(cycles(graph)) == [["emc_bench.commands", "emc_bench.report"],
                                     ["emc_bench.judge.cache", "emc_bench.judge.runner"]]
