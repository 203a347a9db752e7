"""Bad input: every kind of bad file is skipped with its reason, the rest is indexed, and
what was indexed before stays intact."""

from __future__ import annotations

import os
import pathlib
import shutil
from pathlib import Path

import pytest

import index.pipeline as pipeline
from index.config import IndexSettings
from index.pipeline import ingest
from index.store import open_index

GOOD = "The harbour authority approved the new lighthouse on Tuesday. Work starts in May."


def _chunk_ids(settings: IndexSettings) -> dict[str, set[str]]:
    index = open_index(settings)
    chroma = {s: set(ids) for s, ids in index.chroma.ids_by_source().items()}
    bm25: dict[str, set[str]] = {}
    for chunk in index.bm25.chunks():
        bm25.setdefault(chunk.source, set()).add(chunk.id)
    assert chroma == bm25
    return chroma


def test_bad_input_matrix(
    corpus_copy: Path,
    index_settings: IndexSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    docs = corpus_copy
    # Three files that index fine first, then turn bad.
    for name in ("was_good.txt", "vanishing.txt", "locked.txt"):
        (docs / name).write_text(f"{name}: {GOOD}", encoding="utf-8")
    first = ingest([docs], index_settings)
    assert first.added == 8 and not first.skipped
    before = _chunk_ids(index_settings)

    (docs / "was_good.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (docs / "vanishing.txt").write_text(f"changed, then gone. {GOOD}", encoding="utf-8")
    (docs / "locked.txt").write_text(f"changed, unreadable. {GOOD}", encoding="utf-8")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (docs / "undecodable.txt").write_bytes(b"\xef\xbb\xbfhello \xff\xfe\xfd world")
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (docs / "data.xyz").write_text("not a supported type", encoding="utf-8")
    with (docs / "huge.txt").open("wb") as fh:  # sparse: cheap to make, 25 MB to the indexer
        fh.truncate(25 * 1024 * 1024)
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "self.txt").symlink_to(docs / "self.txt")
    bad_name = os.fsdecode(b"latin1-\xe9t\xe9.txt")  # not UTF-8: undecodable bytes
    (docs / bad_name).write_text(GOOD, encoding="utf-8")
    (docs / "new.md").write_text(f"# New\n\n{GOOD}\n", encoding="utf-8")
    missing = tmp_path / "no-such-folder"

    real_load = pipeline.load_file

    def vanish_then_load(path: Path, source: str, max_bytes: int):
        if path.name == "vanishing.txt":
            path.unlink()  # the file disappears between hashing and loading
        return real_load(path, source, max_bytes)

    monkeypatch.setattr(pipeline, "load_file", vanish_then_load)
    locked = docs / "locked.txt"
    if os.geteuid() == 0:  # root reads through chmod 000: simulate the refusal instead
        real_read = pathlib.Path.read_bytes

        def refuse(self: Path) -> bytes:
            if self.name == "locked.txt":
                raise PermissionError(13, "Permission denied", str(self))
            return real_read(self)

        monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    else:
        locked.chmod(0)

    report = ingest([docs, missing], index_settings)
    matrix = {Path(s.path).name: s.reason for s in report.skipped}
    with capsys.disabled():
        print("\nbad-input matrix (path -> reason):")
        for skipped in report.skipped:
            print(f"  {skipped.path} -> {skipped.reason}")

    expected = {
        "was_good.txt": "binary",
        "vanishing.txt": "not found",
        "locked.txt": "permission denied",
        "empty.txt": "empty",
        "binary.txt": "binary",
        "undecodable.txt": "undecodable",
        "corrupt.pdf": "PDF",
        "data.xyz": "unsupported file type",
        "huge.txt": "too large",
        "loop": "symlink loop",
        "self.txt": "symlink loop",
        "no-such-folder": "path does not exist",
        "latin1-\\xe9t\\xe9.txt": "not valid UTF-8",
    }
    assert set(matrix) == set(expected)
    for name, words in expected.items():
        assert words.lower() in matrix[name].lower(), (name, matrix[name])
    assert all("\n" not in reason and "Traceback" not in reason for reason in matrix.values())

    # the rest is indexed, and nothing that was indexed before is lost
    assert report.added == 1 and report.unchanged == 5 and report.removed == 0
    after = _chunk_ids(index_settings)
    assert set(after) == set(before) | {"new.md"}
    for source, ids in before.items():
        assert after[source] == ids, source
    statuses = {f.source: f.status for f in report.files}
    assert statuses["new.md"] == "added" and statuses["locked.txt"] == "skipped"

    # once the problems are gone, the next run catches up
    monkeypatch.undo()
    if locked.exists():
        locked.chmod(0o644)
    for name in ("loop", "self.txt", "huge.txt", "binary.txt", "was_good.txt", bad_name):
        path = docs / name
        path.unlink() if path.is_symlink() or path.is_file() else shutil.rmtree(path)
    final = ingest([docs], index_settings)
    assert final.updated == 1  # locked.txt, readable again
    assert {"was_good.txt", "vanishing.txt"} <= {
        f.source for f in final.files if f.status == "removed"
    }
