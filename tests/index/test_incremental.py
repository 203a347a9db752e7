"""Incremental re-indexing: only what changed is re-embedded; both stores stay identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.config import IndexSettings
from index.pipeline import ingest
from index.store import open_index


def _ids_by_source(settings: IndexSettings) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    index = open_index(settings)
    chroma = {s: set(ids) for s, ids in index.chroma.ids_by_source().items()}
    bm25: dict[str, set[str]] = {}
    for chunk in index.bm25.chunks():
        bm25.setdefault(chunk.source, set()).add(chunk.id)
    return chroma, bm25


def test_editing_one_file_reembeds_only_that_file(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    ingest([corpus_copy], index_settings)
    before, _ = _ids_by_source(index_settings)
    edited = sorted(before)[1]
    with (corpus_copy / edited).open("a", encoding="utf-8") as fh:
        fh.write("\n\nA late addendum: the zebra-crossing summit was postponed to April.\n")

    report = ingest([corpus_copy], index_settings)
    assert (report.updated, report.unchanged, report.added, report.removed) == (1, 4, 0, 0)
    changed = [f for f in report.files if f.status == "updated"]
    assert [f.source for f in changed] == [edited]
    assert report.embedded_chunks == changed[0].chunks

    after, bm25 = _ids_by_source(index_settings)
    assert after == bm25
    for source in before:
        if source != edited:
            assert after[source] == before[source]
    assert after[edited] != before[edited]
    index = open_index(index_settings)
    hit = index.bm25_search("zebra-crossing summit", k=1)
    assert index.get([hit[0][0]])[0].source == edited


def test_deleting_a_file_removes_exactly_its_chunks_from_both_stores(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    ingest([corpus_copy], index_settings)
    before, _ = _ids_by_source(index_settings)
    gone = sorted(before)[3]
    (corpus_copy / gone).unlink()

    report = ingest([corpus_copy], index_settings)
    assert (report.removed, report.unchanged, report.embedded_chunks) == (1, 4, 0)
    assert report.documents == 4
    after, bm25 = _ids_by_source(index_settings)
    assert after == bm25
    assert after == {s: ids for s, ids in before.items() if s != gone}
    assert report.chunks == sum(len(ids) for ids in before.values()) - len(before[gone])


def test_a_folder_given_twice_loses_a_deleted_file_once(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    ingest([corpus_copy], index_settings)
    gone = sorted(p.name for p in corpus_copy.iterdir())[0]
    (corpus_copy / gone).unlink()
    report = ingest([corpus_copy, corpus_copy], index_settings)
    assert (report.removed, report.documents) == (1, 4)
    assert [f.source for f in report.files if f.status == "removed"] == [gone]


def test_a_new_file_is_added_and_other_roots_are_left_alone(
    corpus_copy: Path, index_settings: IndexSettings, tmp_path: Path
) -> None:
    ingest([corpus_copy], index_settings)
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "sub" / "memo.md").write_text("# Memo\n\nThe quarterly audit starts on Monday.\n")
    report = ingest([notes], index_settings)
    assert (report.added, report.removed, report.documents) == (1, 0, 6)
    assert "sub/memo.md" in open_index(index_settings).sources()  # POSIX path under its root

    shutil.copy(
        corpus_copy / sorted(p.name for p in corpus_copy.iterdir())[0], corpus_copy / "copy.txt"
    )
    report = ingest([corpus_copy, notes], index_settings)
    assert (report.added, report.unchanged, report.documents) == (1, 6, 7)
    chroma, bm25 = _ids_by_source(index_settings)
    assert chroma == bm25 and len(chroma) == 7


def test_a_missing_root_keeps_what_it_had_indexed(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    first = ingest([corpus_copy], index_settings)
    moved = corpus_copy.with_name("moved")
    corpus_copy.rename(moved)
    report = ingest([corpus_copy], index_settings)
    assert [(s.path, s.reason) for s in report.skipped] == [
        (str(corpus_copy), "path does not exist")
    ]
    assert (report.removed, report.chunks) == (0, first.chunks)


def test_a_run_that_dies_midway_is_repaired_by_the_next_one(
    corpus_copy: Path, index_settings: IndexSettings, tmp_path: Path, monkeypatch
) -> None:
    """Chroma written, BM25 and manifest not: the next run reconciles both stores."""
    from index.store import ChunkIndex

    ingest([corpus_copy], index_settings)
    names = sorted(p.name for p in corpus_copy.iterdir())
    (corpus_copy / names[0]).write_text("Entirely new text about a canal lock.\n")
    (corpus_copy / names[1]).unlink()

    def crash(self: ChunkIndex) -> None:
        raise RuntimeError("simulated crash before the BM25 side was written")

    monkeypatch.setattr(ChunkIndex, "commit", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest([corpus_copy], index_settings)
    monkeypatch.undo()
    assert (index_settings.data_dir / "index.dirty").exists()

    ingest([corpus_copy], index_settings)
    clean = IndexSettings(data_dir=tmp_path / "clean")
    ingest([corpus_copy], clean)
    repaired, repaired_bm25 = _ids_by_source(index_settings)
    reference, _ = _ids_by_source(clean)
    assert repaired == repaired_bm25 == reference
    assert not (index_settings.data_dir / "index.dirty").exists()


def test_a_single_file_argument_is_indexed_under_its_name(
    corpus_copy: Path, index_settings: IndexSettings
) -> None:
    target = sorted(corpus_copy.iterdir())[2]
    first = ingest([target], index_settings)
    assert (first.added, first.documents) == (1, 1)
    assert open_index(index_settings).sources() == [target.name]
    again = ingest([target], index_settings)
    assert (again.unchanged, again.embedded_chunks) == (1, 0)
