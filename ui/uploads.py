"""Documents uploaded from the browser: checked, saved under a safe name, then indexed.

A file is refused (with a reason shown to the user) when its type is not one the loaders read
or when it is larger than `server.max_upload_mb`. Accepted files are copied into
`index.uploads_dir` under a sanitised name (no folders, no `..`, no hidden or odd characters),
then that folder is indexed with the same pipeline as `rag index`, so an upload with the name
of an earlier one updates it. This module does not parse documents (index.loaders does).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from index.types import FileResult
from rag.config import Settings

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_MAX_NAME = 120


def supported_suffixes() -> set[str]:
    from index.loaders import SUPPORTED_SUFFIXES

    return {s.lower() if s.startswith(".") else "." + s.lower() for s in SUPPORTED_SUFFIXES}


def safe_name(filename: str) -> str:
    """A file name that stays inside the uploads folder: 'a/../../b c?.txt' -> 'b c_.txt'."""
    base = re.split(r"[\\/]", filename)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip(" ._") or "upload"
    suffix = suffix.lower()
    stem = stem[: _MAX_NAME - len(suffix) - 1]
    return f"{stem}.{suffix}" if suffix else stem


def check_upload(path: Path, name: str, settings: Settings) -> str | None:
    """Why this file cannot be accepted, or None when it can."""
    suffix = Path(name).suffix.lower()
    allowed = supported_suffixes()
    if suffix not in allowed:
        kinds = ", ".join(sorted(allowed))
        return f"unsupported file type '{suffix or 'none'}' (accepted: {kinds})"
    try:
        size = path.stat().st_size
    except OSError as err:
        return f"could not read the upload ({err.strerror or err})"
    limit = settings.server.max_upload_mb
    if size > limit * 1024 * 1024:
        return f"file is {size / 1024 / 1024:.1f} MB, larger than the {limit:g} MB upload limit"
    if size == 0:
        return "file is empty"
    return None


def save_upload(path: Path, name: str, uploads_dir: Path) -> Path:
    """Copy atomically into uploads_dir under `name` (already sanitised)."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    target = uploads_dir / name
    if target.resolve().parent != uploads_dir.resolve():  # defence in depth
        raise ValueError(f"refusing to write outside the uploads folder: {name}")
    fd, tmp = tempfile.mkstemp(dir=uploads_dir, prefix=".upload-")
    os.close(fd)
    try:
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def ingest_uploads(
    files: Sequence[str | Path], settings: Settings
) -> tuple[list[FileResult], bool]:
    """Save and index uploaded files. Returns one result per file and whether the index changed.

    `files` are temporary paths whose last component is the name the user uploaded.
    """
    from index.pipeline import ingest

    uploads_dir = settings.index.uploads_dir
    results: dict[str, FileResult] = {}
    saved: list[str] = []
    for raw in files:
        path = Path(raw)
        name = safe_name(path.name)
        reason = check_upload(path, name, settings)
        if reason is not None:
            results[name] = FileResult(source=name, status="skipped", reason=reason)
            continue
        try:
            save_upload(path, name, uploads_dir)
        except (OSError, ValueError) as err:
            results[name] = FileResult(source=name, status="skipped", reason=str(err))
            continue
        saved.append(name)
    changed = False
    if saved:
        report = ingest([uploads_dir], settings.index)
        by_source = {r.source: r for r in report.files}
        for name in saved:
            results[name] = by_source.get(name) or FileResult(source=name, status="unchanged")
        skipped = {Path(s.path).name: s.reason for s in report.skipped}
        for name in saved:
            if results[name].status == "unchanged" and name in skipped:
                results[name] = FileResult(source=name, status="skipped", reason=skipped[name])
            if results[name].status == "skipped":  # unreadable: do not keep it around
                (uploads_dir / name).unlink(missing_ok=True)
        changed = any(r.status in ("added", "updated", "removed") for r in report.files)
    return list(results.values()), changed
