"""`rag eval`: scoring and reports around a scripted assistant, then end to end via the CLI.

The unit part drives `run_suite` with a fake assistant that returns real `Answer` values, so
the scores, the JSON shape and the three report files can be checked against hand-worked
numbers. The e2e part runs `rag eval evals/suites/corpus.yaml --split test --backend
extractive` as a subprocess on an index it builds in tmp_path (real Chroma, real embedder);
`make eval-gate` asks the DEV half the same way, so every case of the suite runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from evals.report import markdown_summary, report_json, write_outputs
from evals.runner import parse_grades, run_suite
from evals.suite import parse_suite
from index.offline import offline_env
from index.types import Chunk
from rag.types import Answer, Citation, Hit, Message, SentenceCheck

REPO = Path(__file__).resolve().parents[2]
REQUIRED_METRICS = {
    "hit_at_5",
    "mrr",
    "answer_accuracy",
    "token_f1",
    "citation_precision",
    "groundedness",
    "abstention_precision",
    "abstention_recall",
    "latency_ms_p50",
    "latency_ms_p95",
}


def _chunk(source: str, text: str = "text") -> Chunk:
    return Chunk(
        id=f"{source}-0", source=source, title=source, text=text, position=0, start=0,
        end=len(text), n_tokens=3,
    )  # fmt: skip


def _answer(text: str, sources: list[str], *, cited: Sequence[str] = (), supported=(), **kw):
    hits = tuple(Hit(_chunk(s), score=1.0 / (i + 1)) for i, s in enumerate(sources))
    citations = tuple(
        Citation(n=i + 1, source=s, title=s, chunk_id=f"{s}-0", start=0, end=4, text="<b>&")
        for i, s in enumerate(cited)
    )
    sentences = tuple(
        SentenceCheck(f"s{i}", (1,), ok, 1.0 if ok else 0.0, 0, 0) for i, ok in enumerate(supported)
    )
    timings = kw.pop("timings_ms", {"retrieval": 10.0, "first_token": 20.0, "total": 100.0})
    return Answer(
        text=text, citations=citations, hits=hits, abstained=kw.pop("abstained", False),
        backend="fake", model="fake", sentences=sentences, timings_ms=timings,
        tokens_in=kw.pop("tokens_in", 50), tokens_out=kw.pop("tokens_out", 5), **kw,
    )  # fmt: skip


class ScriptedAssistant:
    """Answers from a script keyed by question; records what it was asked."""

    def __init__(self, script: dict[str, Answer]) -> None:
        self.script = script
        self.calls: list[tuple[str, tuple[Message, ...], str | None]] = []

    def ask(self, question, history=(), *, backend=None):
        self.calls.append((question, tuple(history), backend))
        return self.script[question]


SUITE = parse_suite(
    {
        "name": "mini",
        "cases": [
            {
                "id": "q1",
                "question": "Who heads the SVR?",
                "answers": ["Naryshkin"],
                "reference": "Sergey Naryshkin",
                "sources": ["a.txt"],
            },
            {"id": "q2", "question": "Who called?", "answers": ["Ratcliffe"], "sources": ["b.txt"]},
            {"id": "u1", "question": "CIA budget?", "unanswerable": True},
            {
                "id": "m1",
                "turns": [
                    {"question": "Who is Koffler?", "answers": ["DIA"], "sources": ["a.txt"]},
                    {"question": "Who did she talk to?", "answers": ["Fox"]},
                ],
            },
        ],
    }
)

SCRIPT = {
    # right answer, expected source at rank 2, one of two citations on the expected source
    "Who heads the SVR?": _answer(
        "Sergey Naryshkin [1]. The SVR <script>x</script> [2].",
        ["z.txt", "a.txt"],
        cited=["a.txt", "z.txt"],
        supported=[True, False],
    ),
    # wrongly refused, expected source not retrieved
    "Who called?": _answer(
        "I could not find this in the documents.",
        ["z.txt"],
        abstained=True,
        timings_ms={"retrieval": 30.0, "total": 300.0},
    ),
    # correctly refused
    "CIA budget?": _answer(
        "I could not find this in the documents.",
        ["z.txt"],
        abstained=True,
        timings_ms={"retrieval": 20.0, "total": 200.0},
    ),
    "Who is Koffler?": _answer(
        "A former DIA officer [1].", ["a.txt"], cited=["a.txt"], supported=[True]
    ),
    "Who did she talk to?": _answer("Fox News [1].", ["a.txt"], cited=["a.txt"], supported=[True]),
}


def near(value: float):
    return pytest.approx(value, abs=1e-4)  # metrics are rounded to 4 decimals


def test_run_suite_scores_by_hand_worked_numbers():
    assistant = ScriptedAssistant(SCRIPT)
    run = run_suite(SUITE, assistant, "fake")
    got = run.metrics
    assert got["answer_accuracy"] == near(0.8)  # q1, u1, m1#1, m1#2 right; q2 wrong
    assert got["hit_at_5"] == near(2 / 3)  # q1, m1#1 hit; q2 miss (m1#2 no sources)
    assert got["mrr"] == near((0.5 + 0 + 1) / 3)
    assert got["citation_precision"] == near((0.5 + 1.0) / 2)  # q1 and m1#1
    assert got["groundedness"] == near((0.5 + 1 + 1) / 3)
    # q1 only has a reference: "sergey naryshkin svr scriptxscript" (markers dropped) vs
    # "sergey naryshkin": precision 2/4, recall 1
    assert got["token_f1"] == near(2 / 3)
    assert got["abstention_precision"] == 0.5  # two refusals, one right
    assert got["abstention_recall"] == 1.0
    assert got["latency_ms_p50"] == 100.0
    assert got["retrieval_ms_p95"] is not None and got["first_token_ms_p50"] == 20.0
    assert got["tokens_in"] == 250 and got["questions"] == 5
    by_id = {s.label: s for s in run.steps}
    assert any("refused an answerable" in p for p in by_id["q2"].problems)
    assert any("no expected source" in p for p in by_id["q2"].problems)
    assert any("z.txt" in p for p in by_id["q1"].problems)  # the unexpected citation
    assert by_id["u1"].problems == []


def test_turns_are_asked_in_order_with_the_conversation_so_far():
    assistant = ScriptedAssistant(SCRIPT)
    run_suite(SUITE, assistant, "fake")
    asked = {q: (h, b) for q, h, b in assistant.calls}
    assert asked["Who heads the SVR?"] == ((), "fake")
    history, _ = asked["Who did she talk to?"]
    assert history == (
        Message("user", "Who is Koffler?"),
        Message("assistant", "A former DIA officer [1]."),
    )
    assert asked["Who is Koffler?"][0] == ()  # a new case starts a new conversation


def test_reports_have_the_documented_shape_and_escape_text(tmp_path):
    runs = [run_suite(SUITE, ScriptedAssistant(SCRIPT), name) for name in ("one", "two")]
    report = report_json("mini", runs)
    assert set(report) == {"suite", "backends"}
    assert set(report["backends"]) == {"one", "two"}
    assert set(report["backends"]["one"]["metrics"]) >= REQUIRED_METRICS
    assert len(report["backends"]["one"]["cases"]) == 5
    paths = write_outputs(report, tmp_path / "out")
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(report))
    page = paths["html"].read_text()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert page.count("data:image/png;base64,") == 2
    summary = markdown_summary(report)
    assert "| answer_accuracy | 0.800 | 0.800 |" in summary
    assert "`q2`" in summary


def test_judge_replies_are_parsed_robustly():
    assert parse_grades("faithfulness: 4\nrelevance: 5") == {"faithfulness": 4, "relevance": 5}
    assert parse_grades("Faithfulness - 2/5. Relevance = 3/5") == {
        "faithfulness": 2,
        "relevance": 3,
    }
    assert parse_grades("Scores: 5 and 4") == {"faithfulness": 5, "relevance": 4}
    assert parse_grades("I cannot grade this.") == {"faithfulness": None, "relevance": None}


class ScriptedJudge:
    """A judge backend with scripted replies (the ChatBackend protocol's stream())."""

    name = "judge"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.prompts: list[str] = []

    def stream(self, request):
        self.prompts.append(request.messages[-1].content)
        yield self.replies[len(self.prompts) - 1]


def test_judge_grades_are_reported_beside_the_judge_free_metrics():
    # three answered questions get judged (q2 and u1 were refused); one reply is unusable
    judge = ScriptedJudge(["faithfulness: 5\nrelevance: 4", "Faithfulness 3, relevance 2", "??"])
    run = run_suite(SUITE, ScriptedAssistant(SCRIPT), "fake", judge=judge)
    assert len(judge.prompts) == 3
    assert "Sergey Naryshkin [1]" in judge.prompts[0] and "<b>&" in judge.prompts[0]
    assert run.metrics["judge_faithfulness"] == 4.0  # mean of 5 and 3; "??" is skipped
    assert run.metrics["judge_relevance"] == 3.0
    assert run.metrics["answer_accuracy"] == pytest.approx(0.8, abs=1e-4)  # still there


# ---- end to end --------------------------------------------------------------------------


def _rag(args: list[str], data_dir: Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = offline_env(RAG_DATA_DIR=str(data_dir))
    env.pop("RAG_CONFIG", None)
    rag = Path(sys.executable).parent / "rag"
    return subprocess.run(
        [str(rag), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def corpus_eval(tmp_path_factory):
    """One real run of the shipped suite's TEST half with the extractive backend."""
    base = tmp_path_factory.mktemp("eval")
    out = base / "report"
    suite = REPO / "evals" / "suites" / "corpus.yaml"
    args = [
        "eval", str(suite), "--split", "test", "--backend", "extractive", "--out", str(out),
        "--json", "--fail-under", "answer_accuracy=0.05",
    ]  # fmt: skip
    result = _rag(args, base / "data")
    return base, out, result


@pytest.mark.e2e
@pytest.mark.slow
def test_eval_cli_writes_the_exact_json_shape_and_three_outputs(corpus_eval):
    base, out, result = corpus_eval
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert set(report) == {"suite", "backends"}
    assert report["suite"] == "corpus-basics (test)"
    assert list(report["backends"]) == ["extractive"]
    data = report["backends"]["extractive"]
    assert set(data) == {"metrics", "cases"}
    assert set(data["metrics"]) >= REQUIRED_METRICS
    assert all(isinstance(data["metrics"][k], int | float) for k in REQUIRED_METRICS)
    n_questions = data["metrics"]["questions"]
    test_ids = set((REPO / "evals" / "splits" / "corpus-test.txt").read_text().split())
    assert {c["id"].split("#")[0] for c in data["cases"]} == test_ids  # turns: "m01#2"
    assert len(data["cases"]) == n_questions >= 47
    f02 = next(c for c in data["cases"] if c["id"] == "f02")
    assert "Ratcliffe" in f02["answer"] and f02["citations"]
    assert (out / "results.json").is_file() and (out / "report.html").is_file()
    assert (out / "summary.md").read_text().startswith("## Eval: corpus-basics")
    assert "answer_accuracy" in result.stderr  # the Markdown summary, off stdout with --json
    # the suite's corpus was indexed under the data dir given, nowhere else
    assert any((base / "data" / "evals").iterdir())


@pytest.mark.e2e
@pytest.mark.slow
def test_fail_under_exits_non_zero_only_below_the_threshold(corpus_eval):
    base, _out, result = corpus_eval
    assert result.returncode == 0  # answer_accuracy=0.05 is reachable
    # a two-question suite over the same corpus (its index is reused) with a bar nobody meets
    small = base / "small.yaml"
    small.write_text(
        f"name: small\ncorpus: {REPO / 'corpus'}\ncases:\n"
        "  - id: f01\n    question: Who is the director of the SVR?\n    answers: [Naryshkin]\n"
        "    sources: [000_aa34d8c1900e3240.txt, 002_e444d33fb3692133.txt]\n"
        "  - id: u01\n    question: What is the CIA's annual budget?\n    unanswerable: true\n"
    )
    impossible = _rag(
        ["eval", str(small), "--backend", "extractive", "--out", str(base / "r2"),
         "--fail-under", "answer_accuracy=1.01", "--fail-under", "hit_at_5=0.1"],
        base / "data",
    )  # fmt: skip
    assert impossible.returncode == 1, impossible.stderr[-2000:]
    assert "FAIL extractive: answer_accuracy" in impossible.stderr
    assert "FAIL extractive: hit_at_5" not in impossible.stderr  # met, so not reported
    assert "Traceback" not in impossible.stderr
    # --limit asks the first N cases only
    first = _rag(["eval", str(small), "--backend", "extractive", "--out", str(base / "r3"),
                  "--limit", "1", "--json"], base / "data")  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    cases = json.loads(first.stdout)["backends"]["extractive"]["cases"]
    assert [c["id"] for c in cases] == ["f01"]


@pytest.mark.e2e
def test_bad_input_gets_a_one_line_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncases:\n  - id: q1\n    answers: [y]\n")
    result = _rag(["eval", str(bad), "--backend", "extractive"], tmp_path / "data")
    assert result.returncode == 2
    assert "case 'q1'" in result.stderr and "question" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = _rag(["eval", str(bad), "--backend", "nope"], tmp_path / "data")
    assert unknown.returncode == 2 and "Unknown backend 'nope'" in unknown.stderr
    metric = _rag(["eval", str(bad), "--fail-under", "speed=3"], tmp_path / "data")
    assert metric.returncode == 2 and "unknown metric 'speed'" in metric.stderr


def test_grouped_citation_markers_are_not_part_of_the_answer_wording():
    from evals.runner import score_step
    from evals.suite import steps_of

    suite = parse_suite(
        {"name": "g", "cases": [{"id": "g1", "question": "Who?", "reference": "Sergey Naryshkin"}]}
    )
    for text in (
        "Sergey Naryshkin [1, 2].",
        "Sergey Naryshkin [1][2].",
        "Sergey [1; 2] Naryshkin.",
    ):
        scored = score_step(steps_of(suite)[0], _answer(text, ["a.txt"]))
        assert scored.scores["token_f1"] == 1.0, text
