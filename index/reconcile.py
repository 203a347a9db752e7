"""Bring the stores and the manifest back in step before a run, and find vanished files.

`open_for_writing(settings, rebuild)` opens the index for a run: with `rebuild` it empties
everything; otherwise, when the previous run died midway (the dirty marker is there, the
BM25 side is unreadable, the manifest is unreadable, or the stores' counts disagree), it
makes Chroma hold only what the manifest records, rebuilds BM25 from Chroma and forgets the
documents whose chunks were incomplete, so they are indexed again. A crash at any moment
thus costs only re-work. `vanished(...)` lists the sources of walked folders whose files are
gone. This module does not read files or embed.
"""

from __future__ import annotations

from collections.abc import Iterable

from index.config import IndexSettings
from index.lock import dirty_marker
from index.manifest import Manifest
from index.store import ChunkIndex, open_index
from index.walk import Candidate


def open_for_writing(settings: IndexSettings, rebuild: bool) -> tuple[ChunkIndex, Manifest]:
    """Open the stores for writing, repairing them first if a previous run died midway."""
    index = open_index(settings, check=not rebuild, repair=True)
    marker = dirty_marker(settings)
    if rebuild:
        marker.touch()
        index.drop()
        manifest = Manifest()
        manifest.touch()
        manifest.save(settings.manifest_path)
        return index, manifest
    manifest = Manifest.load(settings.manifest_path)
    expected = sum(len(r.chunk_ids) for r in manifest.files.values())
    if (
        marker.exists()
        or index.needs_repair
        or not manifest.readable
        or not index.store_counts().agree(expected)
    ):
        marker.touch()
        broken = index.reconcile(manifest.chunk_ids())
        for source in broken:
            manifest.files.pop(source, None)
        manifest.save(settings.manifest_path)
    return index, manifest


def vanished(
    manifest: Manifest, walked_roots: Iterable[str], found: Iterable[Candidate]
) -> list[str]:
    """Sources the manifest holds under a walked folder that this walk did not find, sorted.

    Each source appears once, even when the same folder was given twice.
    """
    seen = {(c.root, c.source) for c in found}
    return sorted(
        source
        for root in set(walked_roots)
        for source in manifest.sources_under(root)
        if (root, source) not in seen
    )
