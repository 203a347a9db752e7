"""Load: 20 concurrent chat sessions, 200 questions, against one real `rag serve`.

Half the sessions talk to the OpenAI-compatible API with the official `openai` SDK, half to the
web app with Gradio's own client (`gradio_client`, the `/chat` endpoint). Every session is a
conversation: it keeps its history (the API sessions send it, the web sessions hold it in their
Gradio session state), so follow-up turns of the corpus suite's multi-turn cases make sense.
Questions mix the corpus suite (evals/suites/corpus.yaml) with out-of-corpus ones.

The server runs the `extractive` backend, so the figures measure the server (queueing,
retrieval, grounding, HTTP), not the speed of a language model. Every answer must be cited
(at least one citation) or an abstention, with no errors; the run has a generous time guard
that catches hangs, it is not a speed target.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
from gradio_client import Client

from evals.suite import load_suite
from rag.citations import MARKER_RE
from tests.conftest import copy_index
from tests.ui.conftest import API_KEY, ServerProcess, start_server

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.server,
    pytest.mark.slow,
    pytest.mark.e2e,
]

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = 20  # half API, half web
PER_SESSION = 10  # 200 questions in all
RUN_GUARD_S = 600  # catches a hang or a deadlock; the printed figures are the measurement
OUT_OF_CORPUS = [
    "What is the boiling point of water at sea level?",
    "Who painted the Mona Lisa?",
    "How many moons does Jupiter have?",
    "What is the recipe for a classic French omelette?",
    "Which team won the 1998 football World Cup?",
    "What is the speed of light in a vacuum?",
    "Who wrote the novel Pride and Prejudice?",
    "What is the tallest mountain in Africa?",
]


@dataclass
class Result:
    channel: str  # "api" or "web"
    question: str
    seconds: float
    cited: bool = False
    abstained: bool = False
    error: str = ""


def session_scripts() -> list[list[str]]:
    """SESSIONS scripts of PER_SESSION questions: one suite conversation each, then a mix."""
    suite = load_suite(ROOT / "evals" / "suites" / "corpus.yaml")
    conversations = [[t.question for t in c.steps()] for c in suite.cases if c.turns]
    singles = [c.question for c in suite.cases if not c.turns and c.question]
    outside = itertools.cycle(OUT_OF_CORPUS)
    inside = itertools.cycle(singles)
    scripts = []
    for n in range(SESSIONS):
        script = list(conversations[n % len(conversations)])
        while len(script) < PER_SESSION:
            # about one question in four is out of the corpus
            script.append(next(outside) if len(script) % 4 == 3 else next(inside))
        scripts.append(script[:PER_SESSION])
    return scripts


@pytest.fixture(scope="module")
def load_server(
    tmp_path_factory: pytest.TempPathFactory, corpus_index_template: Path
) -> Iterator[ServerProcess]:
    data_dir = copy_index(corpus_index_template, tmp_path_factory.mktemp("load") / "data")
    server = start_server(data_dir, "--backend", "extractive", RAG_API_KEY=API_KEY)
    yield server
    server.stop()


def api_session(url: str, script: list[str]) -> list[Result]:
    client = openai.OpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0, timeout=300)
    history: list[dict[str, str]] = []
    results = []
    for question in script:
        history.append({"role": "user", "content": question})
        start = time.perf_counter()
        try:
            reply = client.chat.completions.create(model="extractive", messages=history)
        except Exception as err:  # every failure is counted, none stops the session
            results.append(Result("api", question, time.perf_counter() - start, error=repr(err)))
            history.pop()
            continue
        seconds = time.perf_counter() - start
        extra = reply.model_extra or {}
        text = reply.choices[0].message.content or ""
        history.append({"role": "assistant", "content": text})
        results.append(
            Result(
                "api",
                question,
                seconds,
                cited=bool(extra.get("citations")),
                abstained=bool(extra.get("abstained")),
            )
        )
    return results


def _last_bubble(chat: list[dict]) -> str:
    content = chat[-1]["content"] if chat else ""
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return str(content)


def web_session(url: str, script: list[str]) -> list[Result]:
    client = Client(url, verbose=False)  # one Gradio session: it holds the conversation
    results = []
    for question in script:
        start = time.perf_counter()
        try:
            chat, _box, sources = client.predict(
                question, "extractive", "", "", 5, True, [], api_name="/chat"
            )
        except Exception as err:
            results.append(Result("web", question, time.perf_counter() - start, error=repr(err)))
            continue
        seconds = time.perf_counter() - start
        bubble = _last_bubble(chat)
        error = bubble if "rag-error" in bubble else ""
        results.append(
            Result(
                "web",
                question,
                seconds,
                # markers render as clickable [<span class="rag-cite" ...>n</span>]
                cited='class="rag-source"' in sources
                and ('class="rag-cite"' in bubble or bool(MARKER_RE.search(bubble))),
                abstained="rag-abstain" in bubble,
                error=error,
            )
        )
    return results


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def test_twenty_sessions_two_hundred_questions(load_server: ServerProcess, figures) -> None:
    url = load_server.url.rstrip("/")
    # Warm-up (not measured): the first question loads the embedding model.
    api_session(url, ["Who is the director of the SVR?"])
    web_session(url, ["Who is the director of the SVR?"])

    scripts = session_scripts()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        futures = [
            pool.submit(api_session if n % 2 == 0 else web_session, url, script)
            for n, script in enumerate(scripts)
        ]
        done, pending = wait(futures, timeout=RUN_GUARD_S)
        for future in pending:
            future.cancel()
    elapsed = time.perf_counter() - start
    assert not pending, f"{len(pending)} sessions still running after {RUN_GUARD_S} s"
    results = [r for f in done for r in f.result()]

    rows = []
    for channel in ("api", "web"):
        mine = [r for r in results if r.channel == channel]
        seconds = [r.seconds for r in mine]
        rows.append(
            [
                channel,
                SESSIONS // 2,
                len(mine),
                sum(bool(r.error) for r in mine),
                sum(r.cited for r in mine),
                sum(r.abstained for r in mine),
                f"{statistics.median(seconds):.2f}",
                f"{_p95(seconds):.2f}",
            ]
        )
    figures.add(
        f"{SESSIONS} concurrent sessions ({SESSIONS // 2} openai SDK on /v1, {SESSIONS // 2} "
        "gradio_client on the web app), extractive backend: measures the server, not a model"
    )
    figures.table(
        ["channel", "sessions", "questions", "errors", "cited", "abstained", "p50 s", "p95 s"],
        rows,
    )
    figures.add(
        f"all: {len(results)} questions in {elapsed:.1f} s = {len(results) / elapsed:.2f} q/s, "
        f"errors {sum(bool(r.error) for r in results)}"
    )

    errors = [f"{r.channel}: {r.question!r}: {r.error[:300]}" for r in results if r.error]
    assert not errors, "\n".join(errors[:10])
    assert len(results) == SESSIONS * PER_SESSION
    neither = [f"{r.channel}: {r.question}" for r in results if not (r.cited or r.abstained)]
    assert not neither, f"answers neither cited nor abstained: {neither[:10]}"
    outside = [r for r in results if r.question in OUT_OF_CORPUS]
    assert outside and all(r.abstained for r in outside), "an out-of-corpus question was answered"
    assert "Traceback" not in "".join(load_server.output), load_server.log()
