"""Crash safety: the real `rag index` is SIGKILLed at random moments, then run to completion,
and must end with exactly the chunk set of a clean run over the same files (same ids in
Chroma, BM25 and the manifest, no duplicates, no orphans, no dirty marker).

The corpus (RAG_CRASH_FILES, default 300 txt/md/html files) moves between a base state and
three changed states (add+update, delete, mixed), so kills land while adding, updating and
deleting; two runs are `--rebuild`. Half the kills wait for the first write (the dirty
marker) and strike a moment later, half strike at a random time after the start. The states
repeat, so one clean reference per state is enough. RAG_CRASH_RUNS (default 20) kills.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from index import writer
from index.config import IndexSettings
from index.manifest import Manifest
from index.pipeline import DIRTY_MARKER, ingest
from rag.testing.fakes import HashEmbedder
from tests.reliability.indexing_helpers import (
    ChunkSet,
    chunk_set,
    make_corpus,
    run_rag,
    start_rag,
    write_doc,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

RUNS = int(os.environ.get("RAG_CRASH_RUNS", "20"))
FILES = int(os.environ.get("RAG_CRASH_FILES", "300"))
# The state each run moves the corpus to ("rebuild": same files, `rag index --rebuild`).
SCHEDULE = ["M1", "A", "M2", "A", "M3", "A", "rebuild"]


def _apply(docs: Path, base: Path, state: str) -> None:
    """Make `docs` hold exactly the files of `state` (derived from the base copy `base`)."""
    shutil.rmtree(docs)
    shutil.copytree(base, docs)
    n = FILES
    if state == "M1":  # 10% new files, 10% edited
        for i in range(n, n + n // 10):
            write_doc(docs, i, seed=1)
        for i in range(0, n, 10):
            write_doc(docs, i, seed=1)
    elif state == "M2":  # 20% deleted
        for path in sorted(docs.rglob("doc*"))[::5]:
            path.unlink()
    elif state == "M3":  # a few of each
        for i in range(n, n + n // 20):
            write_doc(docs, i, seed=3)
        for i in range(1, n, 20):
            write_doc(docs, i, seed=3)
        for path in sorted(docs.rglob("doc*"))[3::20]:
            path.unlink()


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def _where(data_dir: Path, files: dict[str, str], before: dict[str, str], rebuild: bool) -> str:
    """Which phase the kill interrupted, read from what the killed run left on disk."""
    marker = (data_dir / DIRTY_MARKER).exists()
    recorded = {s: r.sha256 for s, r in Manifest.load(data_dir / "manifest.json").files.items()}
    if rebuild:
        if not marker:
            return "startup (before any write)"
        return f"rebuild ({len(recorded)}/{len(files)} stored)"
    to_write = {s for s, h in files.items() if before.get(s) != h}
    to_delete = set(before) - set(files)
    written = {s for s in to_write if recorded.get(s) == files[s]}
    deleted = {s for s in to_delete if s not in recorded}
    if not marker and not written and not deleted:
        return "load/embed (before any write)"
    if len(written) < len(to_write):
        return f"add/update ({len(written)}/{len(to_write)} stored)"
    if len(deleted) < len(to_delete):
        return f"delete ({len(deleted)}/{len(to_delete)} removed)"
    return "commit (BM25 save)" if marker else "after the end"


def _kill_at_random(
    proc: subprocess.Popen, data_dir: Path, rng: random.Random, mode: str, t_max: float
) -> tuple[bool, float]:
    """SIGKILL `proc` at a random moment; (killed, seconds after start)."""
    started = time.monotonic()
    marker = data_dir / DIRTY_MARKER
    if mode == "write":  # wait for the first write, then strike within a moment
        deadline = None
        while proc.poll() is None:
            now = time.monotonic()
            if deadline is None and marker.exists():
                deadline = now + rng.uniform(0.0, rng.choice((0.05, 0.5)))
            if deadline is not None and now >= deadline:
                break
            if now - started > 600:
                break
            time.sleep(0.005)
    else:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=rng.uniform(0.3, t_max))
    elapsed = time.monotonic() - started
    if proc.poll() is not None:
        proc.communicate()
        return False, elapsed
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return proc.returncode == -signal.SIGKILL, elapsed


def test_sigkill_at_random_moments_then_rag_index_converges_to_a_clean_run(
    tmp_path: Path, figures, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20260701)
    base, docs, crashed = tmp_path / "base", tmp_path / "docs", tmp_path / "crashed"
    make_corpus(base, FILES)
    shutil.copytree(base, docs)
    references: dict[str, tuple[ChunkSet, int]] = {}

    def reference() -> tuple[ChunkSet, int]:
        key = _digest(docs)
        if key not in references:  # a clean, uninterrupted run over the same files
            clean = IndexSettings(data_dir=tmp_path / f"clean{len(references)}")
            with monkeypatch.context() as patched:
                # Chunk ids hash source, position and text only, so the reference's vectors
                # do not matter; hashed ones spare embedding every state again.
                patched.setattr(writer, "get_embedder", lambda _settings: HashEmbedder())
                report = ingest([docs], clean)
            assert not report.skipped
            references[key] = (chunk_set(clean), report.chunks)
        return references[key]

    started = time.monotonic()
    code, out, err = run_rag(crashed, "index", str(docs), "--json")
    assert code == 0, err
    t_full = time.monotonic() - started
    assert json.loads(out)["documents"] == FILES
    started = time.monotonic()
    code, out, err = run_rag(crashed, "index", str(docs), "--json")  # nothing to do
    assert code == 0 and json.loads(out)["unchanged"] == FILES, err
    t_noop = time.monotonic() - started

    rows, mismatches, killed, attempt = [], 0, 0, 0
    while killed < RUNS and attempt < 2 * RUNS:  # on a fast machine more runs finish first
        state = SCHEDULE[attempt % len(SCHEDULE)]
        rebuild = state == "rebuild"
        before = {s: r.sha256 for s, r in Manifest.load(crashed / "manifest.json").files.items()}
        if not rebuild:
            _apply(docs, base, state)
        files = _hashes(docs)
        mode = "write" if attempt % 2 == 0 else "elapsed"
        proc = start_rag(crashed, "index", str(docs), "--json", *(["--rebuild"] if rebuild else []))
        t_max = 0.8 * t_full if rebuild else t_noop + 3.0  # model load + a little embedding
        was_killed, elapsed = _kill_at_random(proc, crashed, rng, mode, t_max)
        attempt += 1
        where = _where(crashed, files, before, rebuild) if was_killed else "finished first"
        assert was_killed or proc.returncode == 0, f"run {attempt} failed: {proc.returncode}"

        code, out, err = run_rag(crashed, "index", str(docs), "--json")
        assert code == 0, f"the run after kill {attempt} failed: {err}"
        assert "Traceback" not in err
        expected, expected_chunks = reference()
        problems = chunk_set(IndexSettings(data_dir=crashed)).problems(expected)
        if json.loads(out)["chunks"] != expected_chunks:
            problems.append("reported chunk count differs")
        if (crashed / DIRTY_MARKER).exists():
            problems.append("dirty marker left behind")
        mismatches += bool(problems)
        killed += was_killed
        change = "rebuild" if rebuild else f"-> {state}"
        rows.append([attempt, change, mode, f"{elapsed:.1f}s", where, "; ".join(problems) or "0"])

    figures.add(
        f"{killed} SIGKILLed `rag index` runs over {FILES}+ files (full first run "
        f"{t_full:.0f}s), {len(references)} clean references, mismatches after recovery: "
        f"{mismatches}"
    )
    figures.table(["run", "change", "kill", "after", "landed in", "mismatches"], rows)
    assert killed >= RUNS, f"only {killed} of {attempt} runs could be killed"
    assert mismatches == 0, rows
    landed = " ".join(row[4] for row in rows)
    for phase in ("add/update", "rebuild"):
        assert phase in landed, f"no kill landed in {phase}: {landed}"
