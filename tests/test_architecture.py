"""Import direction: no module imports from a layer above its own (docs/architecture.md).

Every import counts: at the top of a module, inside functions, under `if TYPE_CHECKING:`,
relative or absolute; a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "lfkit"

# Lowest first; a module may import its own layer and the layers below.
LAYERS: list[tuple[str, ...]] = [
    ("lfkit.errors", "lfkit._types", "lfkit.files", "lfkit.display"),
    ("lfkit.rules",),
    ("lfkit.data", "lfkit.readers", "lfkit.output", "lfkit.check"),
    ("lfkit.engine",),
    ("lfkit.model",),
    ("lfkit.audit",),
    ("lfkit.report", "lfkit.review", "lfkit.assist"),
    ("lfkit.cli", "lfkit.__main__", "lfkit"),
]

# Backward edges not fixed yet, each with the reason. Empty: a new backward import fails.
ALLOWED: set[tuple[str, str]] = set()


def layer_of(module: str) -> int:
    """Return the layer index of a module: the longest matching prefix in LAYERS."""
    best, length = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = index, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best


def module_name(path: Path) -> str:
    """Return the dotted name of a module file of the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Return every lfkit module a file of the package imports, wherever the statement is."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name)


def imports_in(source: str, name: str, filename: str = "x.py") -> set[str]:
    """Return every lfkit module some source imports: top level, in functions, relative."""
    package = name if filename == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
    return {module for module in found if module == "lfkit" or module.startswith("lfkit.")}


def backward_edges() -> set[tuple[str, str]]:
    """Return every (importer, imported) pair where the imported module is in a higher layer."""
    edges = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for imported in imports(path):
            if layer_of(imported) > layer_of(importer):
                edges.add((importer, imported))
    return edges


def test_no_backward_imports() -> None:
    """No module imports from a higher layer, except the listed edges."""
    assert sorted(backward_edges() - ALLOWED) == []


def test_allowed_edges_still_exist() -> None:
    """Every allowed backward edge still exists: remove fixed ones so the list only shrinks."""
    assert sorted(ALLOWED - backward_edges()) == []


@functools.cache  # several tests walk every file, some once per import statement: walk once
def nodes_of(path: Path) -> tuple[ast.AST, ...]:
    """Return every node of the syntax tree of a Python file."""
    return tuple(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


def defined_and_imported(module: str) -> tuple[set[str], set[str]]:
    """Return the names a module file binds itself and the names it only imports."""
    defined, imported = set(), set()
    for node in nodes_of(PACKAGE.parent / (module.replace(".", "/") + ".py")):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return defined, imported - defined


def reexport_imports() -> set[tuple[str, str, str]]:
    """Return (file, module, name) for each `from lfkit.X import name` where X only imports it."""
    found = set()
    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").rglob("*.py")]
    files += (root / "benchmarks").rglob("*.py")
    for path in sorted(files):
        for node in nodes_of(path):
            if not isinstance(node, ast.ImportFrom) or node.level:
                continue
            module = node.module or ""
            if not module.startswith("lfkit."):
                continue
            if not (root / (module.replace(".", "/") + ".py")).is_file():
                continue  # a package: its __init__ may gather names on purpose
            _, only_imported = defined_and_imported(module)
            for alias in node.names:
                if alias.name in only_imported:
                    found.add((str(path.relative_to(root)), module, alias.name))
    return found


def test_names_imported_from_their_home() -> None:
    """`from lfkit.X import name` takes name from the module that defines it, not a re-export."""
    assert sorted(reexport_imports()) == []


def test_public_names_point_to_their_home() -> None:
    """Each lazy public name of `lfkit` (`_HOMES`) resolves to the module that defines it."""
    import lfkit

    for name, module in lfkit._HOMES.items():
        defined, _ = defined_and_imported(module)
        assert name in defined, f"lfkit.{name}: {module} does not define it"


def test_imports_found_inside_functions_and_relative() -> None:
    """Imports in function bodies, under TYPE_CHECKING and relative ones are all found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from lfkit.audit.suspects import Flag\n"
        "def f():\n    from lfkit.model.fit import LabelModel\n"
        "    import lfkit.report.html\n"
        "from ..errors import DataError\nfrom . import keywords\n"
    )
    found = imports_in(source, "lfkit.engine.apply")
    assert found == {
        "lfkit.audit.suspects",
        "lfkit.model.fit",
        "lfkit.report.html",
        "lfkit.errors",
        "lfkit.engine",
    }
    assert max(layer_of(module) for module in found) > layer_of("lfkit.engine.apply")


def test_every_module_has_a_layer() -> None:
    """Each module of the package belongs to a layer (a new package must be placed)."""
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def identity_classes() -> set[str]:
    """Return the lfkit classes that hash by identity: dataclasses declared with eq=False."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in nodes_of(path):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(decorator, ast.Call)
                and any(
                    keyword.arg == "eq"
                    and isinstance(keyword.value, ast.Constant)
                    and keyword.value.value is False
                    for keyword in decorator.keywords
                )
                for decorator in node.decorator_list
            ):
                found.add(node.name)
    return found


def identity_caches() -> set[tuple[str, str]]:
    """Return (module, function) for each functools-cached function with an argument
    annotated by a class that hashes by identity."""
    classes = identity_classes()
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in nodes_of(path):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names = {ast.unparse(decorator).split("(")[0] for decorator in node.decorator_list}
            if not names & {"lru_cache", "cache", "functools.lru_cache", "functools.cache"}:
                continue
            annotations = [ast.unparse(arg.annotation) for arg in node.args.args if arg.annotation]
            if any(word in classes for text in annotations for word in _words(text)):
                found.add((module_name(path), node.name))
    return found


def _words(text: str) -> list[str]:
    return "".join(char if char.isalnum() or char == "_" else " " for char in text).split()


def test_no_cache_keyed_on_identity() -> None:
    """No functools cache takes an object that hashes by identity (a dataclass with eq=False,
    such as RuleSet): such a cache keeps its arguments alive and misses on every copy;
    `RuleSet.derived` keeps a compiled form with its rule set instead."""
    assert "RuleSet" in identity_classes()
    assert sorted(identity_caches()) == []
