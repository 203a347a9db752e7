"""`ingest`, `index_documents` and `rag index` end to end on the real stores and model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from filelock import FileLock

from index.config import IndexSettings
from index.embedding import bundled_model_path
from index.pipeline import IndexBusyError, index_documents, index_status, ingest
from index.store import IndexMismatchError, open_index
from index.types import Document
from rag.cli import cli


def _store_ids(settings: IndexSettings) -> tuple[list[str], list[str]]:
    index = open_index(settings)
    chroma = sorted(i for ids in index.chroma.ids_by_source().values() for i in ids)
    return chroma, sorted(index.bm25.ids)


def test_first_run_indexes_the_corpus_and_second_run_embeds_nothing(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    first = ingest([corpus_copy], index_settings)
    assert (first.added, first.updated, first.unchanged, first.removed) == (5, 0, 0, 0)
    assert first.documents == 5 and first.chunks > 5
    assert first.embedded_chunks == first.chunks
    assert not first.skipped
    assert set(first.timings) == {"load", "chunk", "embed", "store"}

    second = ingest([corpus_copy], index_settings)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 5)
    assert second.embedded_chunks == 0
    assert second.chunks == first.chunks
    chroma, bm25 = _store_ids(index_settings)
    assert chroma == bm25 and len(chroma) == first.chunks


def test_touching_a_file_without_changing_it_reembeds_nothing(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    ingest([corpus_copy], index_settings)
    target = corpus_copy / sorted(p.name for p in corpus_copy.iterdir())[0]
    target.write_bytes(target.read_bytes())  # new mtime, same content
    report = ingest([corpus_copy], index_settings)
    assert report.unchanged == 5 and report.embedded_chunks == 0


def test_changed_settings_are_refused_until_rebuild(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    first = ingest([corpus_copy], index_settings)
    other_model = index_settings.model_copy(update={"embedding_model": str(bundled_model_path())})
    with pytest.raises(IndexMismatchError, match=r"embedding_model .*rag index --rebuild"):
        ingest([corpus_copy], other_model)
    smaller = index_settings.model_copy(update={"chunk_tokens": 96, "chunk_overlap": 16})
    with pytest.raises(IndexMismatchError, match="chunk_tokens 256 -> 96"):
        ingest([corpus_copy], smaller)
    assert index_status(index_settings).chunks == first.chunks  # nothing was lost

    rebuilt = ingest([corpus_copy], smaller, rebuild=True)
    assert rebuilt.added == 5 and rebuilt.chunks > first.chunks
    status = index_status(smaller)
    assert (status.chunk_tokens, status.chunk_overlap) == (96, 16)
    chroma, bm25 = _store_ids(smaller)
    assert chroma == bm25 and len(chroma) == rebuilt.chunks


def test_a_second_concurrent_run_fails_clearly(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    index_settings.data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(index_settings.lock_path)), pytest.raises(IndexBusyError, match="wait"):
        ingest([corpus_copy], index_settings)


def _doc(source: str, text: str) -> Document:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Document("", source, text, source.title(), None, "txt", digest)


def test_index_documents_upserts_by_source_and_hash(index_settings: IndexSettings) -> None:
    docs = [
        _doc("doc-a", "Alpacas are domesticated South American camelids. They hum softly."),
        _doc("doc-b", "The Rhine flows from the Swiss Alps to the North Sea."),
        _doc("doc-c", "Photosynthesis converts light energy into chemical energy."),
    ]
    first = index_documents(docs, index_settings)
    assert (first.added, first.documents) == (3, 3)
    again = index_documents(iter(docs), index_settings)  # any iterable, not only lists
    assert (again.unchanged, again.embedded_chunks) == (3, 0)
    changed = [docs[0], _doc("doc-b", "The Danube flows into the Black Sea.")]
    third = index_documents(changed, index_settings)
    assert (third.updated, third.unchanged, third.documents) == (1, 1, 3)
    index = open_index(index_settings)
    hit = index.bm25_search("Danube", k=1)
    assert index.get([hit[0][0]])[0].source == "doc-b"
    assert index.bm25_search("Rhine", k=3) == []  # the old text is gone from both stores
    assert sorted(index.chroma.ids_by_source()) == ["doc-a", "doc-b", "doc-c"]


def test_rag_index_json_follows_the_contract(
    corpus_copy: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir.parent)
    runner = CliRunner()
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "index", str(corpus_copy), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("documents", "chunks", "added", "updated", "unchanged", "removed", "seconds"):
        assert isinstance(report[key], int | float)
    assert report["skipped"] == [] and report["added"] == 5

    again = runner.invoke(cli, ["--data-dir", str(data_dir), "index", str(corpus_copy), "--json"])
    assert json.loads(again.stdout)["unchanged"] == 5
    assert json.loads(again.stdout)["embedded_chunks"] == 0

    human = runner.invoke(cli, ["--data-dir", str(data_dir), "index", str(corpus_copy)])
    assert human.exit_code == 0 and "unchanged" in human.stdout

    status = runner.invoke(cli, ["--data-dir", str(data_dir), "index", "--status", "--json"])
    assert json.loads(status.stdout)["documents"] == 5


def test_rag_index_errors_are_one_line_with_exit_status_2(
    corpus_copy: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir.parent)
    runner = CliRunner()
    args = ["--data-dir", str(data_dir), "index", str(corpus_copy), "--json"]
    assert runner.invoke(cli, args).exit_code == 0
    monkeypatch.setenv("RAG_INDEX__CHUNK_TOKENS", "128")
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "rag index --rebuild" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    monkeypatch.delenv("RAG_INDEX__CHUNK_TOKENS")
    down = runner.invoke(cli, [*args, "--chroma-url", "http://127.0.0.1:9"])
    assert down.exit_code == 2 and "http://127.0.0.1:9" in down.stderr
