"""What one `rag bench` run measures: the sections, the datasets and the subset sizes.

`BenchOptions` is filled by the CLI (evals/bench/cli.py) and read by the orchestrator; the
quick variant (`BenchOptions.quick_defaults`) uses small subsets for `make test`. The shared
datasets default to `../shared/datasets/` beside the repository. Nothing runs here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCIFACT = REPO.parent / "shared/datasets/scifact"
DEFAULT_SQUAD = REPO.parent / "shared/datasets/squad/dev-v1.1.json"
SECTIONS = ("index", "embedding", "scale", "answer", "peer")  # "index" includes retrieval
BENCH_VERSION = 2


@dataclass
class BenchOptions:
    quick: bool = False
    scifact: Path = DEFAULT_SCIFACT
    squad: Path = DEFAULT_SQUAD
    corpus: list[Path] = field(default_factory=list)  # empty: settings.index.default_paths
    max_docs: int | None = None  # SciFact documents (None: all 5,183)
    max_queries: int | None = None  # SciFact test queries (None: all 300)
    scale_chunks: int = 100_000
    scale_real_chunks: int | None = None  # real text in the scale collection (None: all)
    answer_questions: int | None = None  # eval-suite questions (None: all)
    reps: int = 3  # alternating repetitions against the peer
    skip: tuple[str, ...] = ()
    answer_backend: str = "llama-cpp"  # the local model the answer targets are about
    config_file: Path | None = None  # given to the `rag` processes the bench starts
    remote_chunks: int | None = None  # the opt-in remote-embedder row on ~N SciFact chunks

    @classmethod
    def quick_defaults(cls, **given: Any) -> BenchOptions:
        base = {
            "quick": True,
            "max_docs": 50,
            "max_queries": 15,
            # mostly variants, so the quick run goes through the same derived-vector path as
            # the full scale point while embedding only a few hundred chunks
            "scale_chunks": 1_000,
            "scale_real_chunks": 200,
            "answer_questions": 2,
            "reps": 1,
        }
        return cls(**(base | {k: v for k, v in given.items() if v is not None}))
