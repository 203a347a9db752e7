"""BEIR evaluation: the format reader, per-document ranking, and real runs of all three modes.

A tiny 20-document dataset is written in tmp_path and indexed for real (Chroma, bm25s, the
bundled MiniLM embedder); a `slow` test does the same on a 300-document subset of SciFact read
from /work/shared/datasets (never copied into the repo).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.datasets.beir import BeirError, load_beir
from evals.retrieval_eval import MODES, beir_markdown, rank_documents, run_beir, score_rankings
from index.types import Chunk
from rag.config import load_settings
from rag.types import Hit

SCIFACT = Path("/work/shared/datasets/scifact")

DOCS = {
    "d01": (
        "Volcanoes of Iceland",
        "Eyjafjallajokull erupted in 2010 and its ash cloud grounded flights across Europe.",
    ),
    "d02": (
        "Honey bees",
        "Honey bees communicate the location of flowers to the hive with a waggle dance.",
    ),
    "d03": (
        "Sourdough",
        "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria.",
    ),
    "d04": (
        "Chess openings",
        "The Sicilian Defence is the most popular reply to the king's pawn opening in chess.",
    ),
    "d05": (
        "Jupiter",
        "Jupiter's Great Red Spot is a storm larger than Earth that has raged for centuries.",
    ),
    "d06": (
        "Penicillin",
        "Alexander Fleming discovered penicillin in 1928 when mould killed bacteria in a dish.",
    ),
    "d07": (
        "Glaciers",
        "Glaciers carve U-shaped valleys as the moving ice grinds the rock beneath it.",
    ),
    "d08": ("Violins", "Stradivari violins made in Cremona are prized for their tone and varnish."),
    "d09": (
        "Coral reefs",
        "Coral bleaching happens when warm water makes corals expel their symbiotic algae.",
    ),
    "d10": (
        "Tea",
        "Green tea and black tea come from the same plant; black tea leaves are oxidised.",
    ),
    "d11": (
        "Marathon",
        "The marathon distance of 42.195 kilometres was fixed at the 1908 London Olympics.",
    ),
    "d12": (
        "Octopus",
        "An octopus has three hearts and blue blood rich in copper-based haemocyanin.",
    ),
    "d13": (
        "Printing press",
        "Gutenberg's printing press with movable metal type spread books across Europe.",
    ),
    "d14": (
        "Bonsai",
        "Bonsai trees are kept small by pruning roots and branches and wiring the trunk.",
    ),
    "d15": ("Tides", "Ocean tides are caused mainly by the gravitational pull of the Moon."),
    "d16": ("Saffron", "Saffron is harvested by hand from the stigmas of the crocus flower."),
    "d17": (
        "Lighthouses",
        "The Fresnel lens let lighthouse beams reach many kilometres out to sea.",
    ),
    "d18": (
        "Photosynthesis",
        "Chlorophyll absorbs red and blue light to power photosynthesis in leaves.",
    ),
    "d19": ("Typewriters", "The QWERTY keyboard layout was designed for mechanical typewriters."),
    "d20": ("Penguins", "Emperor penguins huddle together to survive the Antarctic winter."),
}
QUERIES = {
    "q1": ("Which Icelandic volcano's ash cloud stopped European air travel?", {"d01": 1}),
    "q2": ("How do bees tell the hive where flowers are?", {"d02": 1}),
    "q3": ("Who discovered penicillin from mould?", {"d06": 1}),
    "q4": ("Why does an octopus have blue blood?", {"d12": 1}),
    "q5": ("What causes ocean tides?", {"d15": 1}),
    "q6": ("How is saffron harvested from crocus flowers?", {"d16": 1}),
    "q7": ("Why do corals bleach in warm water?", {"d09": 1}),
    "q8": ("Where does the QWERTY keyboard layout come from?", {"d19": 1, "d13": 0}),
}


def write_beir(root: Path, docs=DOCS, queries=QUERIES) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for doc_id, (title, text) in docs.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text, "metadata": {}}))
            f.write("\n")
    with (root / "queries.jsonl").open("w", encoding="utf-8") as f:
        for qid, (text, _) in queries.items():
            f.write(json.dumps({"_id": qid, "text": text, "metadata": {}}) + "\n")
        f.write(json.dumps({"_id": "train-only", "text": "not judged in test"}) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    rows = ["query-id\tcorpus-id\tscore"]
    rows += [f"{q}\t{d}\t{s}" for q, (_, rel) in queries.items() for d, s in rel.items()]
    (root / "qrels" / "test.tsv").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    return root


def test_reader_handles_crlf_qrels_and_keeps_only_judged_queries(tmp_path):
    data = load_beir(write_beir(tmp_path / "tiny"))
    assert data.name == "tiny"
    assert len(data.corpus) == 20
    assert set(data.queries) == set(QUERIES)  # "train-only" has no test judgment
    assert data.qrels["q8"] == {"d19": 1, "d13": 0}  # no stray "\r" in ids or scores
    assert data.corpus["d05"][0] == "Jupiter"


def test_reader_errors_are_readable(tmp_path):
    with pytest.raises(BeirError, match=r"corpus\.jsonl is missing"):
        load_beir(tmp_path)
    root = write_beir(tmp_path / "broken")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td01\tyes\n")
    with pytest.raises(BeirError, match="not an integer"):
        load_beir(root)


def _hit(source: str, position: int, score: float) -> Hit:
    chunk = Chunk(
        id=f"{source}-{position}", source=source, title="", text="t", position=position,
        start=0, end=1, n_tokens=1,
    )  # fmt: skip
    return Hit(chunk, score)


def test_a_document_scores_its_best_chunk():
    hits = [_hit("a", 0, 0.9), _hit("b", 0, 0.8), _hit("a", 1, 0.95), _hit("c", 0, 0.1)]
    assert rank_documents(hits) == ["a", "b", "c"]
    assert rank_documents([_hit("b", 0, 0.5), _hit("a", 0, 0.4), _hit("a", 1, 0.6)]) == ["a", "b"]


def test_scores_over_queries_are_hand_checkable():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}}
    rankings = {"q1": ["a", "x"], "q2": ["x", "b"]}
    got = score_rankings(rankings, qrels)
    assert got["mrr_at_10"] == pytest.approx((1 + 0.5) / 2)
    assert got["recall_at_10"] == pytest.approx((1 + 0.5) / 2)
    # q2: DCG = 1/log2(3) = 0.6309, IDCG = 1 + 1/log2(3) = 1.6309
    assert got["ndcg_at_10"] == pytest.approx((1 + 0.6309 / 1.6309) / 2, abs=1e-4)


def _settings(tmp_path: Path):
    return load_settings({"index": {"data_dir": str(tmp_path / "data")}})


@pytest.mark.slow
def test_all_three_modes_find_the_judged_documents(tmp_path):
    root = write_beir(tmp_path / "tiny")
    settings = _settings(tmp_path)
    result = run_beir(root, settings)
    assert result["built_index"] is True
    assert set(result["modes"]) == set(MODES)
    for mode in MODES:
        scores = result["modes"][mode]
        assert scores["recall_at_10"] == 1.0, (mode, scores)
        assert scores["ndcg_at_10"] >= 0.85, (mode, scores)
        assert scores["mrr_at_10"] >= 0.85, (mode, scores)
    # the index lives under the configured data dir and is reused by the next run
    assert Path(result["index"]).is_relative_to(tmp_path / "data" / "beir")
    again = run_beir(root, settings)
    assert again["built_index"] is False
    assert again["modes"] == result["modes"]
    table = beir_markdown(result)
    assert "| bm25 |" in table and "0.665–0.685" in table and "0.645–0.674" in table


@pytest.mark.slow
def test_wrong_judgments_score_low(tmp_path):
    """The metric can fail: qrels pointing at unrelated documents give a low nDCG."""
    wrong = {qid: (text, {"d20": 1}) for qid, (text, _) in QUERIES.items() if qid != "q8"}
    root = write_beir(tmp_path / "wrong", queries=wrong)
    result = run_beir(root, _settings(tmp_path))
    for mode in MODES:
        assert result["modes"][mode]["ndcg_at_10"] < 0.5, mode


def scifact_subset(dest: Path, n_docs: int = 300) -> Path:
    """A BEIR folder in tmp_path: the judged docs of the first test queries, then fillers."""
    qrels: dict[str, dict[str, int]] = {}
    lines = (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]
    for line in lines:
        q, d, s = line.strip().split("\t")
        qrels.setdefault(q, {})[d] = int(s)
    keep_docs: list[str] = []
    keep_queries: list[str] = []
    for q, rel in qrels.items():
        if len(keep_docs) + len(rel) > n_docs // 2:
            break
        keep_queries.append(q)
        keep_docs += [d for d in rel if d not in keep_docs]
    corpus = [json.loads(x) for x in (SCIFACT / "corpus.jsonl").open(encoding="utf-8")]
    wanted = set(keep_docs)
    chosen = [d for d in corpus if d["_id"] in wanted]
    chosen += [d for d in corpus if d["_id"] not in wanted][: n_docs - len(chosen)]
    dest.mkdir(parents=True)
    (dest / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in chosen))
    queries = [json.loads(x) for x in (SCIFACT / "queries.jsonl").open(encoding="utf-8")]
    keep = set(keep_queries)
    (dest / "queries.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in queries if q["_id"] in keep)
    )
    (dest / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore"]
    rows += [f"{q}\t{d}\t{s}" for q in keep_queries for d, s in qrels[q].items()]
    (dest / "qrels" / "test.tsv").write_text("\r\n".join(rows) + "\r\n")
    return dest


@pytest.mark.slow
@pytest.mark.skipif(not SCIFACT.is_dir(), reason="SciFact is not in /work/shared/datasets")
def test_scifact_subset_reaches_published_quality(tmp_path):
    root = scifact_subset(tmp_path / "scifact300")
    result = run_beir(root, _settings(tmp_path))
    print(beir_markdown(result))
    assert result["documents"] == 300
    # A 300-document subset is easier than the full 5,183 (fewer distractors), so each mode
    # should at least reach the low end of the published full-corpus anchors.
    for mode in MODES:
        assert result["modes"][mode]["ndcg_at_10"] >= 0.64, (mode, result["modes"][mode])
        assert result["modes"][mode]["recall_at_100"] >= 0.9, mode
