"""The package's import graph has no cycle, lazy imports inside functions included.

A cycle hidden by an in-function import works until someone moves the import to the top of the
file; reading the source (ast) rather than importing finds every such edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import derain_seg_ros

PACKAGE = Path(derain_seg_ros.__file__).resolve().parent


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, modules: set[str]) -> set[str]:
    """Every module of ``modules`` that ``path`` (module ``name``) imports anywhere: top level,
    functions, classes."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from a.b import c` imports a.b, and a.b.c too when c is a module
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target in modules and target != name:
                found.add(target)
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    names = {f: module_name(f, package) for f in sorted(package.rglob("*.py"))}
    modules = set(names.values())
    return {name: imported_modules(f, name, modules) for f, name in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path (first == last), or None: depth-first search with three colours."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_imports_form_no_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert "derain_seg_ros.runtime.factory" in graph["derain_seg_ros.runtime.per_size_engine"]  # the walk sees edges
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_cycle_closed_by_a_lazy_or_relative_import_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import x\n    return x\n")
    assert find_cycle(import_graph(pkg)) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (pkg / "sub" / "b.py").write_text("import os\n")
    assert find_cycle(import_graph(pkg)) is None


def external_imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports anywhere (``rclpy``, ``train``, ``matplotlib``...)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_layers_hold_what_the_design_says() -> None:
    """The product core (nets, runtime, ros, commands) never reaches the research code in train/ (the
    paper's baselines live there); ros/ is the live node and imports no data, rain or bag code; rclpy is
    imported by the node and the bag player only."""
    graph = import_graph(PACKAGE)
    files = {module_name(f, PACKAGE): f for f in PACKAGE.rglob("*.py")}
    core = [m for m in files if m.split(".")[1:2] in (["nets"], ["runtime"], ["ros"], ["commands"])]
    assert not [m for m in core if "train" in external_imports(files[m])]
    offline = ("derain_seg_ros.data", "derain_seg_ros.rain", "derain_seg_ros.bags")
    node = [m for m in files if m.startswith("derain_seg_ros.ros")]
    assert not {(m, t) for m in node for t in graph[m] if t.startswith(offline)}
    assert {m for m in files if "rclpy" in external_imports(files[m])} == {
        "derain_seg_ros.ros.node",
        "derain_seg_ros.bags.play",
    }


VEHICLE_CHECK = """
import importlib.abc, sys
class Offline(importlib.abc.MetaPathFinder):  # what a vehicle install lacks: the tools extra, and train/
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"matplotlib", "tqdm", "rosbags", "train"}:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: a vehicle install)")
sys.meta_path.insert(0, Offline())
import derain_seg_ros.ros.node_core, derain_seg_ros.ros.params, derain_seg_ros.ros.launch_args
from derain_seg_ros.cli import main
sys.exit(main(["infer", sys.argv[1], "--out", sys.argv[2], "--backend", "torch", "--model", "embedded"]))
"""


def test_a_vehicle_install_runs_the_node_core_and_infer_without_the_offline_extras(tmp_path: Path) -> None:
    """setup.py's install_requires (torch, numpy, OpenCV, pyyaml) are enough for the node's core and `infer`."""
    import subprocess
    import sys

    import cv2
    import numpy as np

    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "frame.png"), np.full((32, 48, 3), 90, np.uint8))
    done = subprocess.run(
        [sys.executable, "-c", VEHICLE_CHECK, str(tmp_path / "in"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((tmp_path / "out").rglob("*.png"))
