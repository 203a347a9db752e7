"""Shared helpers of the reliability tests: a generated corpus, the real `rag` CLI as a
subprocess, and the chunk set an index holds (Chroma, BM25 and the manifest).

No test lives here. The corpus is short on purpose: embedding is what a run costs.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from index.config import IndexSettings
from index.manifest import Manifest
from index.store import open_index

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


def article(rng: random.Random, n: int, sentences: int) -> str:
    """A short made-up article: `sentences` sentences of topic words, numbered by `n`."""
    body = " ".join(
        " ".join(rng.choices(WORDS, k=rng.randint(6, 11))).capitalize() + f" in district {n}-{i}."
        for i in range(sentences)
    )
    return body


def render(kind: str, title: str, body: str) -> str:
    """The same text as a .txt, .md or .html file."""
    if kind == "md":
        return f"# {title}\n\n{body}\n"
    if kind == "html":
        return (
            f"<html><head><title>{title}</title></head><body><nav>Home | About</nav>"
            f"<article><h1>{title}</h1><p>{body}</p></article></body></html>\n"
        )
    return f"{title}\n\n{body}\n"


def write_doc(folder: Path, n: int, seed: int, *, long: bool = False) -> Path:
    """Write document `n` (its kind and name fixed by n, its text by seed) and return it."""
    rng = random.Random(seed * 100_003 + n)
    kind = ("txt", "md", "html")[n % 3]
    sentences = rng.randint(14, 30) if long else rng.randint(1, 4)
    path = folder / f"part{n % 5}" / f"doc{n:04d}.{kind}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(kind, f"Report {n}", article(rng, n, sentences)), encoding="utf-8")
    return path


def make_corpus(folder: Path, count: int, seed: int = 0) -> None:
    """`count` documents, a third each txt/md/html; one in ten is long (several chunks)."""
    for n in range(count):
        write_doc(folder, n, seed, long=n % 10 == 7)


def rag_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", "--data-dir", str(data_dir), *args]


def start_rag(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the real `rag` CLI (stdout/stderr piped) with offline settings."""
    return subprocess.Popen(
        rag_command(data_dir, *args),
        env=dict(os.environ, RAG_INDEX__EMBEDDING_BATCH_SIZE="16", **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=data_dir.parent,
    )


def run_rag(data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
    proc = start_rag(data_dir, *args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@dataclass(frozen=True)
class ChunkSet:
    """What an index holds, read from each of its three records."""

    chroma: tuple[str, ...]  # every id Chroma holds (duplicates would show)
    bm25: tuple[str, ...]
    manifest: tuple[str, ...]
    sources: frozenset[str]  # sources in the manifest

    def problems(self, reference: ChunkSet) -> list[str]:
        """Every way this index differs from a clean `reference` (empty when it converged)."""
        found = []
        for name in ("chroma", "bm25", "manifest"):
            ids = getattr(self, name)
            if len(ids) != len(set(ids)):
                found.append(f"{name}: {len(ids) - len(set(ids))} duplicate ids")
            missing = set(reference.chroma) - set(ids)
            extra = set(ids) - set(reference.chroma)
            if missing:
                found.append(f"{name}: {len(missing)} chunks missing")
            if extra:
                found.append(f"{name}: {len(extra)} orphan chunks")
        if self.sources != reference.sources:
            found.append(f"manifest sources differ by {len(self.sources ^ reference.sources)}")
        return found


def chunk_set(settings: IndexSettings) -> ChunkSet:
    index = open_index(settings)
    chroma = tuple(i for ids in index.chroma.ids_by_source().values() for i in ids)
    manifest = Manifest.load(settings.manifest_path)
    recorded = tuple(i for r in manifest.files.values() for i in r.chunk_ids)
    return ChunkSet(chroma, tuple(index.bm25.ids), recorded, frozenset(manifest.files))
