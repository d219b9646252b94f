"""The shape of the tree: imports only point down the layers, no import cycles, small modules and
functions, and the tour of the code (docs/layout.md) names what is there."""

from __future__ import annotations

import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Lowest first: a package may import its own layer and the ones before it, never one after it.
LAYERS = ("pipeline", "sources", "tokenizer", "tokens", "training")
# On top of every layer: commands, sample data, benchmarks and tests (they may import each other,
# without cycles).
TOP = ("scripts", "samples", "benchmarks", "tests")
SKIP_DIRS = {".git", ".venv", ".cache", "data", "runs", "build", "__pycache__", ".hypothesis"}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# module -> why it may be longer than MAX_MODULE_LINES (none today).
LONG_MODULES: dict[str, str] = {}
# "module:function" -> why it may be longer than MAX_FUNCTION_LINES (none today).
LONG_FUNCTIONS: dict[str, str] = {}


def python_modules(root: str) -> dict[str, str]:
    """Dotted module name -> file path, for every .py file of the project under `root`."""
    modules = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in names:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), root)
                dotted = rel[:-3].replace(os.sep, ".")
                modules[dotted.removesuffix(".__init__")] = os.path.join(folder, name)
    return modules


def imports_of(module: str, path: str, modules: dict[str, str]) -> set[str]:
    """The project modules `module` imports, anywhere in its body (function-level imports too)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            # `from a import b` imports the module a.b when there is one, else a name of a
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a package: the deepest module
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph(root: str) -> dict[str, set[str]]:
    modules = python_modules(root)
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a lower layer to a higher one, or from a layer to the top packages."""
    rank = {name: i for i, name in enumerate(LAYERS)} | {name: len(LAYERS) for name in TOP}
    problems = []
    for module, targets in sorted(graph.items()):
        own = rank.get(module.split(".")[0])
        for target in sorted(targets):
            theirs = rank.get(target.split(".")[0])
            if own is not None and theirs is not None and theirs > own:
                problems.append(f"{module} imports {target}")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def oversized(root: str) -> tuple[list[str], list[str]]:
    """(modules over MAX_MODULE_LINES, functions over MAX_FUNCTION_LINES), exceptions aside."""
    long_modules, long_functions = [], []
    for module, path in sorted(python_modules(root).items()):
        with open(path, encoding="utf-8") as f:
            source = f.read()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES and module not in LONG_MODULES:
            long_modules.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(source, path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and f"{module}:{node.name}" not in LONG_FUNCTIONS:
                    long_functions.append(f"{module}:{node.name}: {length} lines")
    return long_modules, long_functions


# --- the project itself ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT)


def test_imports_only_point_down_the_layers(graph):
    assert set(LAYERS) | set(TOP) >= {m.split(".")[0] for m in graph if "." in m}, "a package outside LAYERS/TOP"
    assert layer_violations(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_modules_and_functions_are_small():
    long_modules, long_functions = oversized(ROOT)
    assert long_modules == [], f"split these modules (or list them in LONG_MODULES with a reason): {long_modules}"
    assert long_functions == [], f"split these functions (or list them in LONG_FUNCTIONS): {long_functions}"


def test_each_source_is_a_package_found_by_the_registry():
    from sources import registry

    for name in registry.ALL_SOURCES:
        assert os.path.isfile(os.path.join(ROOT, "sources", name, "source.py")), name
        assert registry.get(name).name == name


def layout_tour(page: str) -> dict[str, set[str]]:
    """Folder -> the modules docs/layout.md names under that folder's bullet (a bullet opens with
    the folder, e.g. "- `sources/books/`: `source.py`, ...")."""
    named: dict[str, set[str]] = {}
    folder = None
    for line in page.splitlines():
        opening = re.match(r"\s*- `([\w/]+)/`", line)
        if opening:
            folder = opening.group(1)
            named.setdefault(folder, set())
        elif not line.strip() or line.startswith("#"):
            folder = None  # a paragraph after the bullets names no folder's modules
        if folder is not None:
            named[folder].update(re.findall(r"`(\w+\.py)`", line))
    return named


def test_layout_tour_names_every_package_and_module_that_exists():
    """Every module docs/layout.md names exists in the folder it is named under, every package
    of the tree has its bullet, and every module of `pipeline/`, `tokens/` and each source package
    is named."""
    with open(os.path.join(ROOT, "docs", "layout.md"), encoding="utf-8") as f:
        named = layout_tour(f.read())
    missing = [f"{folder}/{m}" for folder, modules in named.items() for m in sorted(modules)
               if not os.path.isfile(os.path.join(ROOT, folder, m))]
    assert missing == [], f"docs/layout.md names modules that do not exist: {missing}"
    sources = [f"sources/{d}" for d in sorted(os.listdir(os.path.join(ROOT, "sources")))
               if os.path.isfile(os.path.join(ROOT, "sources", d, "__init__.py"))]
    without_bullet = [p for p in (*LAYERS, *TOP, *sources) if p not in named]
    assert without_bullet == [], f"docs/layout.md has no bullet for {without_bullet}"
    for folder in ["pipeline", "tokens", *sources]:
        modules = {n for n in os.listdir(os.path.join(ROOT, folder)) if n.endswith(".py") and n != "__init__.py"}
        assert modules <= named[folder], f"docs/layout.md does not name {sorted(modules - named[folder])} of {folder}/"


# --- the checks catch what they are for -------------------------------------------------------
def _tree(tmp_path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


def test_an_upward_import_is_caught(tmp_path):
    root = _tree(tmp_path, {
        "pipeline/__init__.py": "", "pipeline/files.py": "def helper():\n    from sources import registry\n",
        "sources/__init__.py": "", "sources/registry.py": "from pipeline import files\n",
        "tokens/__init__.py": "", "tokens/run.py": "from ..sources import registry\nimport training.train\n",
        "training/__init__.py": "", "training/train.py": "from tokens.run import x\n",
        "scripts/__init__.py": "", "scripts/demo.py": "import tokens.run\n",
    })
    assert layer_violations(import_graph(root)) == [
        "pipeline.files imports sources.registry", "tokens.run imports training.train"]


def test_a_cycle_is_caught(tmp_path):
    root = _tree(tmp_path, {
        "sources/__init__.py": "", "sources/a.py": "from sources import b\n", "sources/b.py": "import sources.c\n",
        "sources/c.py": "from .a import thing\n", "sources/d.py": "from sources import a\n",
    })
    assert cycles(import_graph(root)) == [["sources.a", "sources.b", "sources.c"]]


def test_a_long_module_and_function_are_caught(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    root = _tree(tmp_path, {"pipeline/__init__.py": "", "pipeline/big.py": "def f():\n" + body + "\n" * 400})
    long_modules, long_functions = oversized(root)
    assert long_modules == [f"pipeline.big: {MAX_FUNCTION_LINES + 401} lines"]
    assert long_functions == [f"pipeline.big:f: {MAX_FUNCTION_LINES + 1} lines"]
