"""Collections on a real Chroma server (`chroma run` on 127.0.0.1): each collection is its own
server collection next to its own BM25 index and manifest, and deleting one removes it from
the server too."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.config import IndexSettings
from index.pipeline import ingest
from index.store import collection_names, delete_collection, open_index
from tests.index.test_chroma_server import chroma_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]
NOTE = "Zorblax Station\n\nThe Zorblax research station is commanded by Captain Ilse Varga.\n"


def test_collections_on_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:  # noqa: F811
    import chromadb

    settings = IndexSettings(data_dir=tmp_path / "data", chroma_url=chroma_server)
    notes = settings.for_collection("notes")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "zorblax.txt").write_text(NOTE, encoding="utf-8")
    ingest([ROOT / "corpus"], settings)
    ingest([tmp_path / "notes"], notes)

    assert collection_names(settings) == ["default", "notes"]
    assert open_index(notes).sources() == ["zorblax.txt"]
    assert "zorblax.txt" not in open_index(settings).sources()
    host, port = chroma_server.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    on_server = {c.name for c in client.list_collections()}
    assert {"ragchat", "ragchat-notes"} <= on_server
    assert client.get_collection("ragchat-notes").count() == 1

    delete_collection(settings, "notes")
    assert "ragchat-notes" not in {c.name for c in client.list_collections()}
    assert not notes.data_dir.exists() and collection_names(settings) == ["default"]
    assert open_index(settings).count() > 5  # the default collection is untouched
    with pytest.raises(ValueError):
        delete_collection(settings, "default")
