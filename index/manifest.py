"""The ingest manifest: what each indexed file looked like and which chunk ids it produced.

One JSON file (data_dir/manifest.json), rewritten atomically (temp file, fsync, os.replace),
so a crash leaves the previous or the next version. The pipeline uses it to skip unchanged
files (size + mtime, then sha256), to find files that disappeared from a folder, and to check
after a crash that the stores hold exactly the recorded chunks. It does no indexing itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

FORMAT = 1


@dataclass
class FileRecord:
    """One indexed document. Documents not read from files have empty root/path."""

    source: str
    sha256: str
    chunk_ids: list[str]
    root: str = ""
    path: str = ""
    size: int = 0
    mtime_ns: int = 0
    indexed_at: str = ""  # ISO time its chunks were last stored ("" in older manifests)

    def same_stat(self, size: int, mtime_ns: int) -> bool:
        return self.size == size and self.mtime_ns == mtime_ns


@dataclass
class Manifest:
    files: dict[str, FileRecord] = field(default_factory=dict)  # by source
    updated_at: str | None = None  # ISO time of the last run that changed something
    readable: bool = True  # False when the file existed but could not be parsed

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            files = {row["source"]: FileRecord(**row) for row in data.get("files", [])}
            return cls(files, updated_at=data.get("updated_at"))
        except (OSError, ValueError, TypeError, KeyError):
            return cls(readable=False)

    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "updated_at": self.updated_at,
            "files": [asdict(r) for r in sorted(self.files.values(), key=lambda r: r.source)],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def touch(self) -> None:
        self.updated_at = datetime.now(UTC).isoformat(timespec="seconds")

    def sources_under(self, root: str) -> list[str]:
        """Sources recorded as found by walking `root`."""
        return [r.source for r in self.files.values() if r.root == root]

    def chunk_ids(self) -> dict[str, set[str]]:
        return {r.source: set(r.chunk_ids) for r in self.files.values()}


def last_indexed(path: Path) -> str | None:
    """When the index last changed, without loading the whole manifest into records."""
    manifest = Manifest.load(path)
    return manifest.updated_at
