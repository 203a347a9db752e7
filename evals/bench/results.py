"""The typed results of `rag bench`: one frozen dataclass per section, and their JSON form.

`BenchResult` holds every section; `to_json(result)` gives the JSON object `rag bench --json`
prints and `--out` writes (field names are the JSON keys; a field whose metadata is `OMIT` is
left out when it is None, a figure that was not measured); `from_json(data)` reads one back
(pydantic validates the nested dataclasses). Nothing is measured or formatted here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# A field with this metadata is absent from the JSON when it is None (not measured).
OMIT = {"omit_none": True}


@dataclass(frozen=True, kw_only=True)
class Percentiles:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int


# ---------------------------------------------------------------- indexing


@dataclass(frozen=True, kw_only=True)
class IndexRun:
    """One indexing run of a corpus, ours or the peer's."""

    embedder: str  # as the index records it (the peer: its model and runtime)
    documents: int
    chunks: int
    seconds: float
    docs_per_s: float | None
    chunks_per_s: float | None
    timings_s: dict[str, float]  # load / chunk / embed / store (the peer: split / embed_store)
    peak_rss_mb: float  # the whole bench process, sampled while this run went
    median_seconds: float | None = field(default=None, metadata=OMIT)  # over the alternating runs
    skipped: int | None = field(
        default=None, metadata=OMIT
    )  # files the loaders refused (file indexing only)


@dataclass(frozen=True, kw_only=True)
class Indexing:
    """Ours (and the peer) indexing one corpus; the SciFact one also names its data."""

    dataset: str | None = field(default=None, metadata=OMIT)
    documents: int | None = field(default=None, metadata=OMIT)
    queries: int | None = field(default=None, metadata=OMIT)
    ours: IndexRun
    peer: IndexRun | None = field(default=None, metadata=OMIT)
    runs: dict[str, list[float]] | None = field(
        default=None, metadata=OMIT
    )  # seconds per run, ours and the peer's
    speedup_vs_peer: float | None = field(
        default=None, metadata=OMIT
    )  # peer median seconds / our median seconds


@dataclass(frozen=True, kw_only=True)
class IndexingResult:
    corpus: Indexing | None = None
    scifact: Indexing | None = None


# ---------------------------------------------------------------- retrieval


@dataclass(frozen=True, kw_only=True)
class Quality:
    """BEIR metrics of one retrieval mode (the peer reports nDCG@10 and recall@10 only)."""

    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float | None = field(default=None, metadata=OMIT)
    mrr_at_10: float | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class PeerLatency:
    ours_hybrid: Percentiles
    peer_similarity_k4: Percentiles
    peer_over_ours_p50: float
    passes: int


@dataclass(frozen=True, kw_only=True)
class Latency:
    """Warm retrieval latency per mode over one index of `chunks` chunks."""

    embedder: str  # the embedder the index records (queries were embedded with it)
    chunks: int
    dense: Percentiles
    bm25: Percentiles
    hybrid: Percentiles
    vs_peer: PeerLatency | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class Retrieval:
    quality: dict[str, Quality] = field(default_factory=dict)  # mode (and "peer") -> metrics
    latency: dict[str, Latency] = field(default_factory=dict)  # "scifact" / "scale" -> modes
    # quality ranks 100 documents, so each half returns this many candidates (the default
    # settings' `candidates` is smaller); the embedder the SciFact index records
    quality_candidates: int | None = field(default=None, metadata=OMIT)
    quality_embedder: str | None = field(default=None, metadata=OMIT)


# ---------------------------------------------------------------- embedding backends


@dataclass(frozen=True, kw_only=True)
class EmbedRow:
    """One embedding backend, built from its own `embedding_backend` setting."""

    embedder: str  # the name an index built with this backend records
    runtime: str  # what computed the vectors (library and version)
    model_file: str | None = field(default=None, metadata=OMIT)  # the ONNX file it ran
    load_seconds: float  # loading it (0 when this process had it loaded already)
    seconds: float
    chunks_per_s: float | None
    ndcg_at_10: float
    recall_at_100: float
    ndcg_loss_vs_torch: float | None = field(default=None, metadata=OMIT)
    quality_holds: bool | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class Embedding:
    chunks: int
    queries: int
    backends: dict[str, EmbedRow]
    slices: int  # the texts were embedded in this many slices, the backends taking turns
    onnx_error: str | None = field(default=None, metadata=OMIT)
    int8_acceptable: bool | None = field(default=None, metadata=OMIT)
    fastest_with_quality: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class RemoteEmbedding:
    """Indexing with the embedder in-process and through `rag serve`'s /v1/embeddings."""

    documents: int
    chunks: int
    server_embedder: str  # what the server embedded with (the same model and backend)
    batch_size: int  # texts per request
    concurrency: int  # requests in flight
    order: list[str]  # the runs, in the order they ran
    runs_s: dict[str, list[float]]  # seconds per run: "in-process" and "remote"
    in_process_chunks_per_s: float | None
    remote_chunks_per_s: float | None
    overhead_pct: float | None  # median remote time over median in-process time, minus 1


# ---------------------------------------------------------------- scale


@dataclass(frozen=True, kw_only=True)
class Scale:
    """The large collection: what it holds and whether this run built it."""

    embedder: str  # as the index records it
    target_chunks: int
    chunks: int
    documents: int
    what: str
    embedded_chunks: int
    derived_chunks: int
    built_now: bool
    build_seconds: float | None
    build_peak_rss_mb: float | None
    store: str | None = field(default=None, metadata=OMIT)  # "chroma server" or "embedded"
    build_load_average: list[float] | None = field(default=None, metadata=OMIT)  # start, end
    bm25_load_seconds: float | None = field(default=None, metadata=OMIT)
    serve: ServeMemory | None = field(default=None, metadata=OMIT)  # `rag serve` on it


# ---------------------------------------------------------------- answers


@dataclass(frozen=True, kw_only=True)
class WarmAnswers:
    """Answers streamed by one warm Assistant. `first_token` and `total` count only the answers
    the model started (a question refused before the model ran has no first token)."""

    backend: str
    models: list[str]  # the model names the answers report
    questions: int
    refused_before_model: int
    first_token: Percentiles
    total: Percentiles
    first_token_reported: Percentiles | None  # the Answers' own first-token timings
    prompt_tokens_median: int | None
    model_prompt_tokens_median: float | None = field(default=None, metadata=OMIT)
    model_prompt_tok_per_s: float | None = field(default=None, metadata=OMIT)
    stages_median_ms: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ColdStart:
    backend: str
    seconds: float
    runs: int
    exit_status: int
    question: str


@dataclass(frozen=True, kw_only=True)
class ServeMemory:
    """Peak RSS of `rag serve` answering over /v1, or why it was not measured."""

    backend: str | None = field(default=None, metadata=OMIT)
    peak_rss_mb: float | None = field(default=None, metadata=OMIT)
    questions: int | None = field(default=None, metadata=OMIT)
    answered: int | None = field(default=None, metadata=OMIT)
    error: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class Answers:
    warm: WarmAnswers
    cold_start_rag_ask: ColdStart
    serve: ServeMemory


# ---------------------------------------------------------------- the whole run


@dataclass(frozen=True, kw_only=True)
class Target:
    target: str
    goal: str
    measured: float | None
    met: bool | None  # None: not measured, or not at the size the target is about
    margin: str | None
    note: str


@dataclass(frozen=True, kw_only=True)
class Machine:
    cpus: int | None
    cpu_model: str | None = None
    ram_gb: float | None = None
    torch_threads: int | None = None  # None: torch was not loaded when the run started
    python: str
    platform: str
    load_average: list[float]  # 1, 5 and 15 minutes, when the run started
    load_average_end: list[float] = field(default_factory=list)  # when it ended


@dataclass(frozen=True, kw_only=True)
class Commit:
    sha: str
    local_changes: bool  # tracked files differed from the commit


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What the run measured: the subsets and repetitions it used, the sections it skipped."""

    max_docs: int | None
    max_queries: int | None
    scale_chunks: int
    answer_questions: int | None
    answer_backend: str
    reps: int
    skipped: list[str]


@dataclass(frozen=True, kw_only=True)
class BenchResult:
    version: int
    quick: bool
    started_at: str | None = None  # UTC, ISO 8601
    commit: Commit | None = None
    machine: Machine
    versions: dict[str, str | None] = field(default_factory=dict)  # package -> version
    scope: Scope | None = None
    section_seconds: dict[str, float] = field(default_factory=dict)  # wall time per section
    embedder: str | None = None  # what our index, retrieval and scale sections ran
    model_load_s: float | None = None
    indexing: IndexingResult = field(default_factory=IndexingResult)
    retrieval: Retrieval | None = field(default=None, metadata=OMIT)
    embedding: Embedding | None = None
    remote_embedding: RemoteEmbedding | None = field(default=None, metadata=OMIT)
    scale: Scale | None = None
    answer: Answers | None = None
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # section -> why it failed


def to_json(value: Any) -> Any:
    """The JSON-ready form of a result (dataclasses become dicts, in field order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = to_json(item)
        return out
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(data: Any) -> BenchResult:
    """A BenchResult read back from `to_json`'s output; pydantic.ValidationError if not one."""
    from pydantic import TypeAdapter

    return TypeAdapter(BenchResult).validate_python(data)
