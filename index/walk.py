"""Find the files to index under the paths a user gave, and say why any cannot be reached.

`collect(paths, skip)` turns files and folders into `Candidate`s (folders walked
recursively, in name order, hidden entries skipped) and reports each path it cannot use
(missing, a symlink loop, permission denied, not a file or folder) through `skip(source,
shown, reason)`. A candidate's source is its path relative to the folder given (POSIX
separators), or its file name for a file given directly. This module does not open files,
check their type or size, or touch the index.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

Skip = Callable[[str, str, str], None]  # (source, shown path, reason)


@dataclass(frozen=True)
class Candidate:
    """A file found for indexing."""

    path: Path  # as reached from the user's argument (for messages)
    source: str
    root: str  # resolved root the source is relative to ("" for a single file argument)


@dataclass(frozen=True)
class Walk:
    """What `collect` found: the files, and the resolved folders it walked."""

    candidates: list[Candidate]
    roots: list[str]


def collect(paths: Sequence[Path], skip: Skip) -> Walk:
    """The files under `paths` (see the module docstring)."""
    candidates: list[Candidate] = []
    roots: list[str] = []
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            skip(str(path), str(path), "path does not exist")
        elif path.is_dir():
            roots.append(str(path.resolve()))
            candidates.extend(_walk(path, skip))
        elif path.is_file():
            candidates.append(Candidate(path, path.name, ""))
        else:
            try:
                os.stat(path)
                reason = "not a regular file or folder"
            except OSError as err:
                reason = os_reason(err)
            skip(str(path), str(path), reason)
    return Walk(candidates, roots)


def _walk(root: Path, skip: Skip) -> Iterator[Candidate]:
    """Files under `root` (recursively), hidden folders skipped, symlink loops reported."""
    root_key = str(root.resolve())
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in visited:
                reason = "symlink loop: leads back to a folder already indexed"
                skip(prefix.rstrip("/"), str(folder), reason)
                continue
            visited.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            skip(prefix.rstrip("/") or str(folder), str(folder), os_reason(err))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path, source = Path(entry.path), f"{prefix}{entry.name}"
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
                if not (is_dir or is_file) and entry.is_symlink():
                    os.stat(entry.path)  # raises the reason: loop or dangling link
            except OSError as err:
                skip(source, str(path), os_reason(err))
                continue
            if is_dir:
                subfolders.append((path, source + "/"))
            elif is_file:
                yield Candidate(path, source, root_key)
        stack.extend(reversed(subfolders))


def printable(name: str) -> str:
    """A file name that can be printed and stored as UTF-8 (undecodable bytes escaped)."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def os_reason(err: OSError) -> str:
    """The one-line reason for an error met while reaching a file."""
    if err.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(err, FileNotFoundError):
        return "file vanished during the run (or a broken symlink)"
    if isinstance(err, PermissionError):
        return "permission denied"
    return f"cannot read: {err.strerror or err}"
