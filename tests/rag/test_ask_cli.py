"""`rag ask` / `rag chat` end to end: a real index of corpus/ in tmp_path, the real CLI.

The Done-when of issue 3: `rag ask "Who is the director of the SVR?" --json` answers with
Naryshkin and a citation into a file that mentions him, with the default backend (llama-cpp,
marked slow) and with extractive; an out-of-corpus question is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from index.offline import offline_env
from rag.prompts import ABSTAIN_TEXT

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
RAG = [sys.executable, "-m", "rag.cli"]
SVR = "Who is the director of the SVR?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    from index.config import IndexSettings
    from index.pipeline import ingest

    folder = tmp_path_factory.mktemp("askcli") / "rag"
    report = ingest([CORPUS], IndexSettings(data_dir=folder))
    assert report.documents == 5
    return folder


def run(args: list[str], data_dir: Path, stdin: str | None = None, timeout: int = 900):
    env = offline_env(RAG_DATA_DIR=str(data_dir))
    env.pop("RAG_CONFIG", None)
    return subprocess.run(
        [*RAG, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir.parent,
        timeout=timeout,
    )


def documents(data_dir: Path) -> dict[str, str]:
    """Cleaned document text per source, rebuilt from the index's chunks."""
    from index.config import IndexSettings
    from index.store import open_index

    index = open_index(IndexSettings(data_dir=data_dir))
    out = {}
    for source in index.sources():
        text = ""
        for chunk in index.chunks_of(source):
            text = text[: chunk.start].ljust(chunk.start) + chunk.text
        out[source] = text
    return out


def assert_naryshkin_answer(result: dict, data_dir: Path) -> None:
    assert "Naryshkin" in result["answer"], result
    assert not result["abstained"]
    docs = documents(data_dir)
    cited = [c for c in result["citations"] if "Naryshkin" in docs[c["source"]]]
    assert cited, result["citations"]
    for c in result["citations"]:
        assert docs[c["source"]][c["start"] : c["end"]] == c["text"]
        assert {"n", "source", "title", "chunk_id", "start", "end", "text"} <= set(c)
    assert result["retrieved"] and {"source", "chunk_id", "score"} <= set(result["retrieved"][0])
    assert result["timings_ms"]["total"] > 0 and result["model"]


def test_extractive_answers_the_svr_question_with_a_citation(data_dir):
    proc = run(["ask", SVR, "--json", "--backend", "extractive"], data_dir)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["backend"] == "extractive"
    assert_naryshkin_answer(result, data_dir)


@pytest.mark.slow
def test_local_model_answers_the_svr_question_with_a_citation(data_dir):
    proc = run(["ask", SVR, "--json", "--backend", "llama-cpp"], data_dir)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["backend"] == "llama-cpp"
    assert result["model"].endswith(".gguf")
    assert_naryshkin_answer(result, data_dir)


def test_out_of_corpus_questions_are_refused_one_json_line_each(data_dir):
    questions = "What is the capital of Australia?\n\nWho won the 2022 World Cup?\n"
    proc = run(["ask", "-", "--json", "--backend", "extractive"], data_dir, stdin=questions)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 2
    for result in lines:
        assert result["abstained"] and result["answer"] == ABSTAIN_TEXT
        assert result["citations"] == []


def test_human_output_lists_the_sources(data_dir):
    proc = run(["ask", SVR, "--backend", "extractive", "--top-k", "3"], data_dir)
    assert proc.returncode == 0, proc.stderr
    assert "Naryshkin" in proc.stdout
    assert "Sources:" in proc.stdout and "[1]" in proc.stdout


def test_source_filter_and_bad_flags(data_dir):
    proc = run(
        ["ask", SVR, "--json", "--backend", "extractive", "--source", "002_e444d33fb3692133.txt"],
        data_dir,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {h["source"] for h in result["retrieved"]} == {"002_e444d33fb3692133.txt"}
    bad = run(["ask", SVR, "--source", "nope.txt"], data_dir)
    assert bad.returncode == 2 and "nope.txt" in bad.stderr and "Traceback" not in bad.stderr
    bad = run(["ask", SVR, "--backend", "nope"], data_dir)
    assert bad.returncode == 2 and "Unknown backend" in bad.stderr


def test_no_index_says_run_rag_index(tmp_path):
    proc = run(["ask", SVR], tmp_path / ".rag")
    assert proc.returncode == 2
    assert "No index found in" in proc.stderr and "run `rag index` first" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_chat_follow_up_retrieves_the_right_document(data_dir):
    turns = f"{SVR}\nWho did he speak with?\nexit\n"
    proc = run(["chat", "--backend", "extractive"], data_dir, stdin=turns)
    assert proc.returncode == 0, proc.stderr
    second = proc.stdout.split("you>")[2]
    assert "Ratcliffe" in second, proc.stdout
    assert "000_aa34d8c1900e3240.txt" in second


def test_follow_up_through_the_python_api(data_dir):
    from rag.assistant import Assistant
    from rag.config import load_settings
    from rag.types import Message

    assistant = Assistant.from_settings(load_settings({"index": {"data_dir": str(data_dir)}}))
    first = assistant.ask("Which institute is Emily Ferris from?", backend="extractive")
    assert "Royal United Services Institute" in first.text
    history = [
        Message("user", "Which institute is Emily Ferris from?"),
        Message("assistant", first.text),
    ]
    follow = assistant.ask("What did she say about the call?", history, backend="extractive")
    assert "Ferris" in follow.query
    assert follow.hits[0].chunk.source == "001_dbe99f0681a73860.txt"
    assert follow.citations and follow.citations[0].source == "001_dbe99f0681a73860.txt"
