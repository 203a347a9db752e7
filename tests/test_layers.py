"""The layers of docs/ARCHITECTURE.md hold: files → index → stores ← rag ← ui / cli / evals.

Every module under index/, rag/, ui/ and evals/ is parsed (not imported) and each of its
imports, including those inside functions, is checked:
- `index` imports nothing from `rag`, `ui` or `evals`;
- `rag` imports nothing from `ui` or `evals`; `ui` nothing from `evals`;
- `rag`, `ui` and `evals` import from `index` only its public modules (`PUBLIC_INDEX`, the list
  docs/ARCHITECTURE.md documents), never a store's or the pipeline's internals.
The `rag` command names its `ui`/`evals` subcommands by string (rag/cli.py COMMANDS), which is
not an import and is not checked here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("index", "rag", "ui", "evals")
FORBIDDEN = {
    "index": {"rag", "ui", "evals"},
    "rag": {"ui", "evals"},
    "ui": {"evals"},
}
# The modules of `index` other packages may import; the rest (the readers, walk, writer,
# reconcile, lock, manifest, clean, the two stores behind index.store) are its internals.
PUBLIC_INDEX = frozenset(
    {
        "index.types",
        "index.config",
        "index.pipeline",
        "index.store",
        "index.embedding",
        "index.onnx_embed",
        "index.offline",
        "index.loaders",
        "index.chunking",
        "index.sentences",
        "index.tokens",
        "index.manifest",
    }
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(module: str, source: str, is_package: bool = False) -> Iterator[str]:
    """Every project module `source` imports (`from pkg import mod` counts as pkg.mod)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: None if is_package else -1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            submodules = [f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")]
            yield from submodules or [base]


def _public(name: str) -> bool:
    """`name` is the index package itself, a public module, or something inside one."""
    return name == "index" or any(name == p or name.startswith(p + ".") for p in PUBLIC_INDEX)


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """The imports of `module` that break the layering, as "module imports name" lines."""
    layer = module.split(".")[0]
    found = []
    for name in imported_modules(module, source, is_package):
        top = name.split(".")[0]
        if top in FORBIDDEN.get(layer, ()):
            found.append(f"{module} imports {name} ({layer} must not import {top})")
        elif top == "index" and layer != "index" and not _public(name):
            found.append(f"{module} imports {name} (not a public module of index)")
    return found


def project_modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield _module_name(path), path


def test_every_package_keeps_to_its_layer() -> None:
    found = [
        line
        for module, path in project_modules()
        for line in violations(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")
    ]
    assert not found, "imports against docs/ARCHITECTURE.md:\n" + "\n".join(found)


def test_the_walk_sees_the_project() -> None:
    modules = dict(project_modules())
    assert {"index.store", "rag.assistant", "ui.app", "evals.cli"} <= set(modules)
    uses = set(imported_modules("rag.assistant", modules["rag.assistant"].read_text()))
    assert "index.store" in uses


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("index.pipeline", "from rag.config import Settings"),
        ("index.walk", "def f():\n    import ui.app\n"),
        ("rag.assistant", "from evals import metrics"),
        ("ui.app", "from index.chroma_store import ChromaStore"),
        ("evals.cli", "from index import bm25_store"),
        ("evals.bench.scale", "from ...index.readers import pdf"),
        ("ui.api", "import evals.runner"),
        ("rag.cli", "from ..ui import app"),
    ],
)
def test_an_import_against_the_layers_is_reported(module: str, source: str) -> None:
    assert violations(module, source)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("rag.assistant", "from index.store import open_index"),
        ("ui.uploads", "from index import pipeline"),
        ("evals.cli", "import index.types"),
        ("index.pipeline", "from index.writer import write"),
        ("rag.cli", "from .config import Settings"),
    ],
)
def test_an_allowed_import_is_not_reported(module: str, source: str) -> None:
    assert violations(module, source) == []


def test_the_architecture_document_lists_the_public_index_modules() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("Public modules of `index`"))
    documented = {f"index.{m}" for m in re.findall(r"`(\w+)\.py`", line)}
    assert documented == PUBLIC_INDEX
