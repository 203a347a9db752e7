"""Crash safety: `rag index` killed with SIGKILL at random moments, then run to completion,
ends with exactly the chunk set of an uninterrupted run (same ids in Chroma and BM25, no
duplicates, no orphans).

The number of killed runs is RAG_KILL9_RUNS (default 8; the reliability suite uses 20).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.config import IndexSettings
from index.pipeline import ingest
from index.store import open_index

pytestmark = pytest.mark.slow

WORDS = [
    "harbour",
    "lighthouse",
    "council",
    "budget",
    "river",
    "bridge",
    "school",
    "library",
    "railway",
    "festival",
    "museum",
    "election",
    "vaccine",
    "drought",
    "harvest",
    "engineer",
    "storm",
    "archive",
    "satellite",
    "treaty",
    "orchestra",
    "glacier",
    "volcano",
    "market",
    "tariff",
    "reservoir",
    "pipeline",
    "telescope",
    "vineyard",
    "monastery",
]


def _article(rng: random.Random, n: int) -> str:
    paragraphs = []
    for p in range(rng.randint(3, 6)):
        sentences = []
        for _ in range(rng.randint(3, 7)):
            words = rng.choices(WORDS, k=rng.randint(6, 14))
            sentences.append(" ".join(words).capitalize() + f" in district {n}-{p}.")
        paragraphs.append(" ".join(sentences))
    return f"Report {n}\n\n" + "\n\n".join(paragraphs) + "\n"


def _make_corpus(folder: Path, rng: random.Random, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        sub = folder / f"part{n % 4}"
        sub.mkdir(exist_ok=True)
        (sub / f"doc{n:03d}.txt").write_text(_article(rng, n), encoding="utf-8")


def _mutate(folder: Path, rng: random.Random, run: int) -> None:
    """Edit, delete and add a few files so every run has work of each kind to be killed in."""
    files = sorted(folder.rglob("*.txt"))
    for path in rng.sample(files, 3):
        path.write_text(_article(rng, 1000 + run), encoding="utf-8")
    rng.choice(files).unlink()
    (folder / "part0" / f"new{run:02d}.txt").write_text(_article(rng, 2000 + run), "utf-8")


def _rag(data_dir: Path, docs: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, RAG_INDEX__EMBEDDING_BATCH_SIZE="16")
    command = [sys.executable, "-m", "rag.cli", "--data-dir", str(data_dir), "index", str(docs)]
    return subprocess.Popen(
        [*command, "--json", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=data_dir.parent,
    )


def _stored(settings: IndexSettings) -> tuple[list[str], list[str]]:
    index = open_index(settings)
    chroma = [i for ids in index.chroma.ids_by_source().values() for i in ids]
    return chroma, index.bm25.ids


def test_sigkill_at_random_moments_then_resume_matches_a_clean_run(tmp_path: Path) -> None:
    runs = int(os.environ.get("RAG_KILL9_RUNS", "8"))
    rng = random.Random(20260601)
    docs = tmp_path / "docs"
    _make_corpus(docs, rng, 60)
    crashed = tmp_path / "crashed"

    started = time.monotonic()
    first = _rag(crashed, docs)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err.decode()
    full_run = time.monotonic() - started

    outcomes = []
    for run in range(runs):
        _mutate(docs, rng, run)
        extra = ("--rebuild",) if run % 2 else ()  # kill during full re-indexing too
        proc = _rag(crashed, docs, *extra)
        delay = rng.uniform(0.2, full_run)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.communicate()
        outcomes.append("killed" if proc.returncode == -signal.SIGKILL else "finished")
        assert proc.returncode in (0, -signal.SIGKILL), f"run {run} failed: {proc.returncode}"
    print(
        f"\nkill -9: {outcomes.count('killed')} of {runs} runs killed "
        f"(full run {full_run:.1f}s): {outcomes}"
    )

    final = _rag(crashed, docs)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err.decode()
    report = json.loads(out)

    clean = IndexSettings(data_dir=tmp_path / "clean", embedding_batch_size=16)
    reference = ingest([docs], clean)
    crashed_settings = IndexSettings(data_dir=crashed)
    chroma, bm25 = _stored(crashed_settings)
    clean_chroma, clean_bm25 = _stored(clean)

    assert len(chroma) == len(set(chroma)) and len(bm25) == len(set(bm25))  # no duplicates
    assert sorted(chroma) == sorted(bm25) == sorted(clean_chroma) == sorted(clean_bm25)
    assert report["chunks"] == reference.chunks == len(chroma)
    assert report["documents"] == reference.documents == len(list(docs.rglob("*.txt")))
    assert not (crashed / "index.dirty").exists()
