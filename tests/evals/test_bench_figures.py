"""`rag bench` figures say what ran: backend labels, turn-taking, and the README's tables.

The embedding test runs the real backends (sentence-transformers on torch, the ONNX exports)
on a few texts with the default settings, whose embedder is not torch: the torch row must
still be torch. The renderer tests write small bench.json files and read them back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from evals.bench.readme import ReportError, load_runs, performance_markdown
from evals.bench.results import (
    BenchResult,
    Commit,
    Embedding,
    EmbedRow,
    Latency,
    Machine,
    Percentiles,
    Quality,
    Retrieval,
    Scale,
    ServeMemory,
    Target,
    from_json,
    to_json,
)

TEXTS = [
    "Aspirin lowers the risk of a second heart attack in adults with heart disease.",
    "Regular aspirin use is linked with fewer colorectal cancers over twenty years.",
    "Vitamin D supplements did not prevent fractures in older women.",
    "Coffee drinking is associated with a lower risk of type 2 diabetes.",
    "Mosquito nets treated with insecticide reduce malaria deaths in children.",
    "Statins reduce LDL cholesterol and cardiovascular events.",
]
SOURCES = ["d1", "d1", "d2", "d3", "d4", "d5"]
QUERIES = {"q1": "Does aspirin prevent heart attacks?", "q2": "Do bed nets stop malaria?"}
QRELS = {"q1": {"d1": 1}, "q2": {"d4": 1}}


@pytest.mark.slow
def test_each_embedding_row_ran_the_backend_it_names(tmp_path: Path) -> None:
    from evals.bench.embedding import compare_backends
    from index.config import IndexSettings

    base = IndexSettings(data_dir=tmp_path / "data")
    assert base.embedding_backend != "torch"  # the default must not stand in for torch
    result = compare_backends(base, TEXTS, SOURCES, QUERIES, QRELS)
    rows = result.backends
    assert list(rows) == ["torch", "onnx", "onnx-int8"], result.onnx_error

    torch_row = rows["torch"]
    assert torch_row.embedder == "all-MiniLM-L6-v2"  # what a torch-built index records
    assert torch_row.runtime.startswith("sentence-transformers ") and " torch " in torch_row.runtime
    assert torch_row.model_file is None

    int8 = rows["onnx-int8"]
    assert int8.embedder == "all-MiniLM-L6-v2 (onnx-int8)"
    assert int8.runtime.startswith("ONNX Runtime ")
    assert int8.model_file is not None and Path(int8.model_file).name == "model_int8.onnx"
    assert rows["onnx"].model_file is not None
    assert Path(rows["onnx"].model_file).name == "model_fused.onnx"

    for row in rows.values():
        assert row.chunks_per_s and row.chunks_per_s > 0
        assert row.ndcg_at_10 > 0.5  # both questions find their abstract on top
    assert result.slices == len(TEXTS)  # fewer texts than slices: one text per turn


class _Recorder:
    """A fake embedder that logs who embedded what, in order."""

    def __init__(self, name: str, log: list[tuple[str, int]]) -> None:
        self.name, self.dim, self._log = name, 2, log

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        self._log.append((self.name, len(texts)))
        return np.asarray([[len(t), 1.0] for t in texts], dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def test_backends_take_turns_and_keep_every_vector_in_order() -> None:
    from evals.bench.embedding import embed_in_turns

    log: list[tuple[str, int]] = []
    embedders = {n: _Recorder(n, log) for n in ("a", "b", "c")}
    texts = [f"text {'x' * i}" for i in range(30)]
    timed, turns = embed_in_turns(embedders, texts, slices=3)
    assert turns == 3
    timed_calls = [name for name, size in log[3:]]  # after one warm-up each
    assert timed_calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # who starts rotates
    for vectors, seconds in timed.values():
        assert vectors[:, 0].tolist() == [len(t) for t in texts] and seconds >= 0


def _percentiles(p50: float) -> Percentiles:
    return Percentiles(p50_ms=p50, p95_ms=p50 * 1.5, mean_ms=p50, n=30)


def _run(when: str, sha: str, **sections: object) -> BenchResult:
    machine = Machine(cpus=2, cpu_model="Test CPU", ram_gb=8.0, python="3.11",
                      platform="Linux", load_average=[0.5, 0.4, 0.3])  # fmt: skip
    return BenchResult(
        version=2,
        quick=False,
        started_at=when,
        commit=Commit(sha=sha, local_changes=False),
        machine=machine,
        versions={"torch": "2.13.0"},
        section_seconds={name: 600.0 for name in sections if name != "targets"},
        **sections,  # type: ignore[arg-type]
    )


def _embedding(torch_speed: float) -> Embedding:
    def row(name: str, speed: float, ndcg: float, file: str | None) -> EmbedRow:
        runtime = "ONNX Runtime 1.32.0" if file else "sentence-transformers 6.3.0, torch 2.13.0"
        return EmbedRow(embedder=name, runtime=runtime, model_file=file, load_seconds=1.0,
                        seconds=100.0, chunks_per_s=speed, ndcg_at_10=ndcg, recall_at_100=0.93,
                        ndcg_loss_vs_torch=round(0.6457 - ndcg, 4))  # fmt: skip

    backends = {
        "torch": row("all-MiniLM-L6-v2", torch_speed, 0.6457, None),
        "onnx-int8": row("all-MiniLM-L6-v2 (onnx-int8)", 61.5, 0.6431, "/c/model_int8.onnx"),
    }
    return Embedding(chunks=9327, queries=300, backends=backends, slices=12)


def _write(folder: Path, result: BenchResult) -> Path:
    folder.mkdir(parents=True)
    (folder / "bench.json").write_text(json.dumps(to_json(result), indent=2))
    return folder / "bench.json"


def test_the_readme_tables_cite_the_run_of_every_figure(tmp_path: Path) -> None:
    ttft = Target(target="Time to first token p50, local model (warm)", goal="<= 800 ms",
                  measured=640.0, met=True, margin="met by 160 ms (20%)", note="")  # fmt: skip
    first = _write(
        tmp_path / "a", _run("2026-12-01T10:00:00+00:00", "a" * 40, embedding=_embedding(40.0))
    )
    int8 = "all-MiniLM-L6-v2 (onnx-int8)"
    dense, bm25, hybrid = _percentiles(4.6), _percentiles(4.5), _percentiles(5.5)
    latency = Latency(embedder=int8, chunks=9327, dense=dense, bm25=bm25, hybrid=hybrid)
    retrieval = Retrieval(
        quality={"hybrid": Quality(ndcg_at_10=0.725, recall_at_10=0.85, recall_at_100=0.953)},
        latency={"scifact": latency},
        quality_candidates=200,
        quality_embedder=int8,
    )
    second = _write(
        tmp_path / "b",
        _run("2026-12-02T10:00:00+00:00", "b" * 40, retrieval=retrieval, targets=[ttft]),
    )

    alone = performance_markdown(load_runs([first]))
    assert "combine" not in alone
    torch_row = next(line for line in alone.splitlines() if line.startswith("| torch |"))
    assert "| 40.0 | 0.6457 | 0.9300 | +0.0000 | [1] |" in torch_row
    assert "sentence-transformers 6.3.0, torch 2.13.0" in torch_row
    int8_row = next(line for line in alone.splitlines() if line.startswith("| onnx-int8 |"))
    assert (
        "`model_int8.onnx`" in int8_row
        and "| 61.5 | 0.6431 |" in int8_row
        and "+0.0026" in int8_row
    )
    assert f"[1] [`{first}`]({first}): full run started 2026-12-01T10:00:00+00:00" in alone
    assert "commit aaaaaaaaaa" in alone and "Test CPU, 2 cores" in alone
    assert "embedding 10.0 min" in alone

    both = performance_markdown(load_runs([first, tmp_path / "b"]))  # a folder names its json
    assert "These tables combine 2 runs" in both
    lines = both.splitlines()
    assert next(x for x in lines if x.startswith("| torch |")).endswith("| [1] |")
    quality_row = next(x for x in lines if x.startswith("| quality, hybrid |"))
    assert "0.725" in quality_row and quality_row.endswith("| [2] |")
    assert next(x for x in lines if "Time to first token" in x).endswith("| [2] |")
    assert "[2] [`" in both and "commit bbbbbbbbbb" in both

    later = _write(
        tmp_path / "c", _run("2026-12-03T10:00:00+00:00", "c" * 40, embedding=_embedding(55.0))
    )
    replaced = performance_markdown(load_runs([first, second, later]))
    torch_row = next(x for x in replaced.splitlines() if x.startswith("| torch |"))
    assert "| 55.0 |" in torch_row and torch_row.endswith("| [3] |")  # the last run given wins
    assert "- [1]" not in replaced  # a run none of whose figures is shown is not listed


def test_a_result_survives_the_json_round_trip() -> None:
    result = _run("2026-12-01T10:00:00+00:00", "a" * 40, embedding=_embedding(40.0))
    data = json.loads(json.dumps(to_json(result)))
    assert "model_file" not in data["embedding"]["backends"]["torch"]  # unmeasured: left out
    assert from_json(data) == result


def test_report_input_errors_are_one_line(tmp_path: Path) -> None:
    from rag.cli import cli

    bad = tmp_path / "bench.json"
    bad.write_text(json.dumps({"version": 2, "quick": False}))
    with pytest.raises(ReportError, match=r"bench\.json: not a rag bench result \(machine"):
        load_runs([bad])
    runner = CliRunner()
    missing = runner.invoke(cli, ["bench", "--report", str(tmp_path / "nowhere.json")], obj={})
    assert missing.exit_code == 2 and "does not exist" in missing.output
    broken = runner.invoke(cli, ["bench", "--report", str(bad)], obj={})
    assert broken.exit_code == 1 and "not a rag bench result" in broken.output
    assert "Traceback" not in broken.output
    good = _write(tmp_path / "ok", _run("2026-12-01", "a" * 40, embedding=_embedding(40.0)))
    shown = runner.invoke(cli, ["bench", "--report", str(good)], obj={})
    assert shown.exit_code == 0 and shown.output == performance_markdown(load_runs([good]))


def test_the_readme_performance_tables_are_the_generated_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The block between the README's markers is exactly `rag bench --report` of its files."""
    import re

    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- bench-report:start -->\n(.*?)<!-- bench-report:end -->", readme, re.S)
    assert block, "the README has no generated performance block"
    command = re.search(r"<!-- generated by `rag bench --report ([^`]+)` -->", block.group(1))
    assert command, "the block does not say which runs it was generated from"
    files = [Path(f) for f in command.group(1).split()]
    monkeypatch.chdir(repo)  # the block cites the files by their path from the repository root
    assert block.group(1) == performance_markdown(load_runs(files))


def test_a_server_and_an_embedded_scale_run_each_show_their_own_figures(tmp_path: Path) -> None:
    int8 = "all-MiniLM-L6-v2 (onnx-int8)"

    def scale_run(folder: str, store: str, p50: float, rss: float) -> Path:
        latency = Latency(embedder=int8, chunks=1_005_855, dense=_percentiles(p50 / 3),
                          bm25=_percentiles(p50), hybrid=_percentiles(p50))  # fmt: skip
        retrieval = Retrieval(quality={}, latency={"scale": latency}, quality_candidates=200,
                              quality_embedder=int8)  # fmt: skip
        scale = Scale(embedder=int8, target_chunks=1_000_000, chunks=1_005_855,
                      documents=502_572, what="real text and variants", embedded_chunks=11_590,
                      derived_chunks=994_265, built_now=True, build_seconds=2815.0,
                      build_peak_rss_mb=6733.0, store=store, build_load_average=[6.2, 3.2],
                      bm25_load_seconds=14.2,
                      serve=ServeMemory(backend="extractive", peak_rss_mb=rss))  # fmt: skip
        result = _run("2026-12-04T10:00:00+00:00", "d" * 40, retrieval=retrieval, scale=scale)
        return _write(tmp_path / folder, result)

    server = scale_run("server", "chroma server", 36.5, 2834.0)
    embedded = scale_run("embedded", "embedded", 30.0, 5100.0)
    lines = performance_markdown(load_runs([server, embedded])).splitlines()
    hybrid = [x for x in lines if x.startswith("| latency, hybrid, warm | scale:")]
    assert len(hybrid) == 2  # side by side, not one replacing the other
    assert "chroma server" in hybrid[0] and "p50 36.5 ms" in hybrid[0]
    assert "embedded" in hybrid[1] and "p50 30.0 ms" in hybrid[1]
    serve = [x for x in lines if x.startswith("| `rag serve` peak RSS | scale:")]
    assert [("2,834" in serve[0]), ("5,100" in serve[1])] == [True, True]
    assert any(x.startswith("| BM25 load at start |") and "14.2 s" in x for x in lines)
    assert any(x.startswith("| time to build |") and "2,815" in x for x in lines)
