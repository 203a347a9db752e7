"""Answer figures for `rag bench`: time to first token and total, cold start, serve memory.

Every figure runs the backend the caller names (`BenchOptions.answer_backend`, llama-cpp: the
local model the targets are about), never the configured default, and records the model the
answers report. Warm: one `Assistant` over an index of the default corpus, the model loaded by
a first untimed question; then each eval-suite question is streamed and timed from the call
to the first text piece and to the final Answer, over the answers the model started. Cold:
`rag ask --backend B` run as a new process on the same index, wall time to exit. Serve: peak
RSS of `rag serve` (and its children) answering the same questions over /v1 with that
backend. Answers are not scored here (`rag eval` does that).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.bench.results import ColdStart, ServeMemory, WarmAnswers
from evals.bench.stats import percentiles
from index.offline import offline_env
from rag.types import Answer, AnswerStream

SUITES_DIR = Path(__file__).resolve().parents[1] / "suites"


def suite_questions(limit: int | None = None) -> list[str]:
    """The single-question cases of evals/suites/*.yaml (the first turn of conversations)."""
    from evals.suite import load_suite

    questions: list[str] = []
    for path in sorted(SUITES_DIR.glob("*.yaml")):
        for case in load_suite(path).cases:
            text = case.question or (case.turns[0].question if case.turns else None)
            if text and not case.unanswerable:
                questions.append(text)
    return questions[:limit] if limit else questions


def _model_counters(assistant: Any, name: str) -> dict[str, float] | None:
    """The backend's llama.cpp perf counters (prompt tokens really processed), if it has them."""
    try:
        backend = assistant.backend(name)
    except Exception:
        return None
    read = getattr(backend, "perf_counters", None)
    return read() if callable(read) else None


def _stream_timed(
    assistant: Any, question: str, backend: str
) -> tuple[float, float, Answer, dict[str, float]]:
    """(ms to first piece, ms to the Answer, the Answer, llama.cpp counter deltas)."""
    before = _model_counters(assistant, backend) or {}
    started = time.perf_counter()
    seen_first = None
    stream = AnswerStream(assistant.stream(question, backend=backend))
    for _piece in stream:
        if seen_first is None:
            seen_first = time.perf_counter()
    final = stream.answer
    ended = time.perf_counter()
    after = _model_counters(assistant, backend) or {}
    delta = {k: after[k] - before.get(k, 0) for k in after}
    first = ((seen_first or ended) - started) * 1000
    return first, (ended - started) * 1000, final, delta


def _prompt_figures(deltas: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Median prompt tokens the model processed per answer (a reused prefix is not) and tok/s."""
    used = [d for d in deltas if d.get("prompt_tokens")]
    if not used:
        return {}
    tokens = [d["prompt_tokens"] for d in used]
    ms = sum(d["prompt_ms"] for d in used)
    return {
        "model_prompt_tokens_median": statistics.median(tokens),
        "model_prompt_tok_per_s": round(sum(tokens) / ms * 1000, 1) if ms else None,
    }


def warm_answers(settings: Any, questions: Sequence[str], backend: str) -> WarmAnswers:
    """Stream each question through one warm Assistant with `backend`; TTFT and total.

    Time to first token and total count only the answers the model started (the Answer
    reports a first token): a question refused before the model runs shows its refusal at
    once, which is neither a first token nor the time an answer takes to write.
    """
    from rag.assistant import Assistant

    assistant = Assistant.from_settings(settings)
    assistant.ask(questions[0], backend=backend)  # loads model, index, embedder: not timed
    models: set[str] = set()
    refused = 0
    first: list[float] = []
    total: list[float] = []
    reported_first: list[float] = []
    errors: list[str] = []
    tokens_in: list[int] = []
    deltas: list[dict[str, float]] = []
    stages: dict[str, list[float]] = {}
    for question in questions:
        ms_first, ms_total, final, delta = _stream_timed(assistant, question, backend)
        deltas.append(delta)
        models.add(final.model)
        if final.error:
            errors.append(final.error)
        if "first_token" in final.timings_ms:
            first.append(ms_first)
            total.append(ms_total)
            reported_first.append(final.timings_ms["first_token"])
        else:
            refused += 1
        tokens_in.append(final.tokens_in)
        for stage, ms in final.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    if not first:
        raise RuntimeError(f"no question reached the {backend} model (all refused or failed)")
    return WarmAnswers(
        backend=backend,
        models=sorted(m for m in models if m),
        questions=len(questions),
        refused_before_model=refused,
        first_token=percentiles(first),
        total=percentiles(total),
        first_token_reported=percentiles(reported_first) if reported_first else None,
        prompt_tokens_median=sorted(tokens_in)[len(tokens_in) // 2] if tokens_in else None,
        **_prompt_figures(deltas),
        # where the time goes, from the Answer's own timings (median ms per stage)
        stages_median_ms={k: round(statistics.median(v), 1) for k, v in stages.items()},
        errors=errors[:3],
    )


def _rag_command(data_dir: Path, config_file: Path | None) -> list[str]:
    """`rag [--config FILE] --data-dir DIR`: the bench's own settings file, if it had one."""
    script = Path(sys.executable).parent / "rag"
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "rag.cli"]
    if config_file is not None:
        cmd += ["--config", str(config_file)]
    return [*cmd, "--data-dir", str(data_dir)]


def cold_start(
    data_dir: Path, question: str, backend: str, config_file: Path | None = None, runs: int = 1
) -> ColdStart:
    """Wall time of `rag ask --backend B QUESTION` on DIR as a fresh process (median of runs)."""
    env = offline_env()
    samples = []
    status = 0
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [*_rag_command(data_dir, config_file), "ask", "--backend", backend, question],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        samples.append(time.perf_counter() - started)
        status = proc.returncode or status
    samples.sort()
    return ColdStart(
        backend=backend,
        seconds=round(samples[len(samples) // 2], 2),
        runs=runs,
        exit_status=status,
        question=question,
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post_json(url: str, body: dict[str, Any], timeout: float) -> int:
    import json
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        return int(response.status)


def serve_peak_rss(
    data_dir: Path, questions: Sequence[str], backend: str, config_file: Path | None = None
) -> ServeMemory:
    """Peak RSS of `rag serve` (process and children) while it answers questions over /v1.

    The server binds 127.0.0.1 on a free port; RSS is sampled every 50 ms from start-up to
    the last answer. The server is stopped at the end (SIGTERM, then SIGKILL).
    """
    import urllib.error
    import urllib.request

    import psutil

    port = _free_port()
    env = offline_env()
    env.pop("RAG_API_KEY", None)
    cmd = [*_rag_command(data_dir, config_file), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0

    def sample() -> None:
        nonlocal peak
        try:
            parent = psutil.Process(proc.pid)
            rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
            peak = max(peak, rss / 2**20)
        except psutil.Error:
            pass

    base = f"http://127.0.0.1:{port}"
    answered = 0
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            sample()
            try:
                with urllib.request.urlopen(f"{base}/v1/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        else:
            stderr = ""
            if proc.poll() is not None and proc.stderr is not None:
                stderr = proc.stderr.read().decode()[-300:]
            raise RuntimeError(f"`rag serve` did not come up: {stderr or 'timed out'}")
        import threading

        done = threading.Event()

        def sampler() -> None:
            while not done.wait(0.05):
                sample()

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        for question in questions:
            body = {"model": backend, "messages": [{"role": "user", "content": question}]}
            if _post_json(f"{base}/v1/chat/completions", body, timeout=300) == 200:
                answered += 1
        done.set()
        thread.join()
        sample()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return ServeMemory(
        backend=backend, peak_rss_mb=round(peak, 1), questions=len(questions), answered=answered
    )
