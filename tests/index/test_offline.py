"""The offline environment: nothing downloads, nothing phones home, in this process or a child."""

from __future__ import annotations

import os

import pytest

from index.offline import OFFLINE_VARIABLES, offline_env, set_offline


def test_a_child_process_environment_is_forced_offline() -> None:
    env = offline_env({"HF_HUB_OFFLINE": "0", "PATH": "/bin"}, RAG_DATA_DIR="/tmp/x")
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["ANONYMIZED_TELEMETRY"] == "False"
    assert env["PATH"] == "/bin" and env["RAG_DATA_DIR"] == "/tmp/x"


def test_this_process_goes_offline_but_keeps_what_the_user_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    set_offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
