"""Shared test fixtures. Keep this small and general; add yours in a marked section."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ---------------------------------------------------------------- offline environment, data dir
# (index/pipeline engineer) Nothing may download or phone home, in this process or in the
# subprocesses tests start (they inherit os.environ).
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[_name] = _value

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT / "corpus"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty index folder (never the project's own .rag)."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the five default corpus files."""
    import shutil

    target = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, target)
    return target


@pytest.fixture
def index_settings(data_dir: Path):
    """Document-side settings pointing at the temporary data dir (defaults otherwise)."""
    from index.config import IndexSettings

    return IndexSettings(data_dir=data_dir)


# ---------------------------------------------------------------- (others: add fixtures below)
