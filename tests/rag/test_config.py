"""Settings: defaults < rag.toml < RAG_* environment < flags, with readable errors."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rag.config import ConfigError, Settings, describe, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for var in list(os.environ):
        if var.startswith("RAG_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_loopback_and_local_backend() -> None:
    s = load_settings()
    assert s.server.host == "127.0.0.1"
    assert s.llm.backend == "extractive"  # measured more accurate than the bundled model
    assert s.index.data_dir == Path(".rag")


def test_precedence_file_then_env_then_flags(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "rag.toml").write_text("[retrieval]\ntop_k = 3\ncandidates = 11\n")
    assert load_settings().retrieval.top_k == 3  # ./rag.toml is read when present
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "7")
    s = load_settings()
    assert s.retrieval.top_k == 7  # env beats the file
    assert s.retrieval.candidates == 11  # the file still gives what env does not
    assert load_settings({"retrieval": {"top_k": 9}}).retrieval.top_k == 9  # flags beat env


def test_short_env_names(monkeypatch) -> None:
    monkeypatch.setenv("RAG_DATA_DIR", "/tmp/somewhere")
    monkeypatch.setenv("RAG_BACKEND", "extractive")
    s = load_settings()
    assert s.index.data_dir == Path("/tmp/somewhere")
    assert s.llm.backend == "extractive"


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[retrieval]\ntop_k = "many"\n', "retrieval.top_k"),
        ("[retrieval]\nno_such_key = 1\n", "no_such_key"),
        ("[retrieval\ntop_k = 1\n", "Could not read settings"),
    ],
)
def test_bad_config_file_names_the_problem(tmp_path: Path, toml: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=needle):
        load_settings(config_file=path)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "nope.toml")


def test_every_setting_has_a_description() -> None:
    rows = describe(Settings())
    assert len(rows) > 30
    assert all(description for _, _, description in rows), [r[0] for r in rows if not r[2]]


def test_rag_config_prints_a_valid_toml_that_round_trips(tmp_path: Path) -> None:
    env = {"PATH": "", "RAG_RETRIEVAL__TOP_K": "4"}
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    parsed = tomllib.loads(out)
    assert parsed["retrieval"]["top_k"] == 4
    (tmp_path / "rag.toml").write_text(out)
    assert load_settings().retrieval.top_k == 4


def test_rag_config_with_bad_env_fails_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli", "config"],
        capture_output=True,
        text=True,
        env={"PATH": "", "RAG_SERVER__PORT": "not-a-port"},
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "server.port" in proc.stderr
    assert "Traceback" not in proc.stderr
