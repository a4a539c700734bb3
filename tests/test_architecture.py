"""The wiring between the rooms (issue 25): no import circle in src/, generators/, detector/; and the README's
flow table names every module one sample's generation imports, from the launcher to the record, so a reader
finds where a sample is planned, generated, written and recorded without a debugger."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"synthfake": ROOT / "src" / "synthfake", "synthfake.generators": ROOT / "generators",
           "synthfake.detector": ROOT / "detector"}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg, folder in FOLDERS.items():
        for f in folder.rglob("*.py"):
            parts = list(f.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if pkg == "synthfake" and parts[:1] in (["generators"], ["detector"]):
                continue
            mods[".".join([pkg, *parts])] = f
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (every import statement, inside functions and TYPE_CHECKING
    blocks too; a package's own __init__ is not counted as imported by its submodules)."""
    mods = _modules()
    graph = {}
    for name, f in mods.items():
        base = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                parts = base.split(".")
                mod = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module
                for a in node.names:  # `from pkg import sub` imports the submodule; `from mod import name` the module
                    deps.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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

    for v in graph:
        if v not in index:
            visit(v)
    return out


def reachable(graph: dict[str, set[str]], roots: list[str]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph[m]
    return seen


def _path_of(module: str, mods: dict[str, Path]) -> str:
    return mods[module].relative_to(ROOT).as_posix()


def test_no_import_circle():
    found = cycles(import_graph())
    assert not found, "import circles: " + "; ".join(" -> ".join(c) for c in found)


def test_the_flow_table_names_every_module_a_sample_imports():
    """From the launchers and the default backends (one per type, reals included), every module imported on the
    way to a record is named in the README's flow table, and every file the table names is on that way."""
    from synthfake.shared_types import DEFAULT_BACKENDS

    mods, graph = _modules(), import_graph()
    roots = ["synthfake.executors", *(f"synthfake.generators.{b}" for b in DEFAULT_BACKENDS.values())]
    needed = {_path_of(m, mods) for m in reachable(graph, roots)}
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### The flow of one sample"):]
    section = section[:section.index("\n### ", 5)]
    named = set(re.findall(r"`((?:src/synthfake|generators|detector)/[\w/]+\.py)`", section))
    assert needed <= named, f"the flow table misses {sorted(needed - named)}"
    assert named <= needed, f"the flow table names files a sample does not import: {sorted(named - needed)}"


def test_ci_runs_the_readme_s_test_command():
    """`.ci/run` calls exactly command 2 of the README's set-up (less the venv activation it does itself)."""
    block = (ROOT / "README.md").read_text().split("# 2. run the tests", 1)[1].split("```", 1)[0]
    command = block.strip().splitlines()[-1].removeprefix(". .venv/bin/activate && ")
    assert command.startswith("pip install -c constraints.txt torch") and "pytest" in command
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_name_the_benchmarks_import_from_the_package_exists():
    """A benchmark is run by hand, rarely: a name moved to another module (bench_curve's evaluate_equalised) broke
    it without any test noticing."""
    import importlib

    missing = []
    for f in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("synthfake"):
                mod = importlib.import_module(node.module)
                missing += [f"{f.name}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(mod, a.name) and importlib.util.find_spec(f"{node.module}.{a.name}") is None]
    assert not missing, missing
