"""`rag eval`: run eval suites (or SQuAD / BEIR benchmarks) and write the reports.

`rag eval SUITE [SUITE ...] [--backend NAME ...] [--out DIR] [--json] [--fail-under M=V ...]
[--judge BACKEND]`, `rag eval --squad FILE [--sample N] [--seed S]`, `rag eval --beir DIR`,
`rag eval --squad-open FILE --split dev|test`, `rag eval --unanswerable FILE --kind
out-of-corpus|near-miss --split dev|test` (evals.answering; `--limit N` asks the first N).
Answers are decoded greedily (temperature 0) so a local model's figures repeat.
A suite with a `corpus:` folder is indexed into its own cached data dir first; otherwise the
configured index is used. Writes results.json, summary.md and report.html into --out and
prints the Markdown summary (to stderr with --json, which puts the JSON on stdout).
Exit status: 0, 1 when a --fail-under threshold is missed, 2 for a usage mistake.
This module only wires the pieces; scoring and reports live in runner.py and report.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from evals.metrics import QUALITY_METRICS
from rag.cli import settings_from_context

FIXED_METRICS = (
    *QUALITY_METRICS,
    "latency_ms_p50",
    "latency_ms_p95",
    "judge_faithfulness",
    "judge_relevance",
)


class EvalError(click.ClickException):
    """A problem that stops the run (no index, index busy...): one line, exit status 2."""

    exit_code = 2


def _index_errors() -> tuple[type[Exception], ...]:
    from index.embedding import EmbeddingError
    from index.pipeline import IndexBusyError
    from index.store import IndexMismatchError, StoreError

    return (IndexMismatchError, StoreError, IndexBusyError, EmbeddingError, OSError)


def parse_thresholds(values: tuple[str, ...], known: tuple[str, ...]) -> dict[str, float]:
    """'[BACKEND:]metric=value' pairs -> dict; a one-line UsageError for anything else.

    Keys keep the optional 'BACKEND:' prefix, which limits the threshold to that backend.
    """
    out: dict[str, float] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        owner, _, name = key.rpartition(":")
        try:
            value = float(raw)
        except ValueError:
            value = None
        if not sep or value is None:
            raise click.UsageError(f"--fail-under expects [BACKEND:]METRIC=NUMBER, got '{item}'.")
        if name not in known:
            raise click.UsageError(
                f"--fail-under: unknown metric '{name}'. Known: {', '.join(known)}."
            )
        out[f"{owner}:{name}" if owner else name] = value
    return out


def check_thresholds(metrics_by_name: dict[str, dict[str, Any]], thresholds: dict[str, float]):
    """Messages for every (backend, metric) below its threshold (an undefined value fails).

    A threshold keyed 'BACKEND:metric' applies to that backend only; a bare one to all.
    """
    failures = []
    for key in thresholds:
        owner = key.rpartition(":")[0]
        if owner and owner not in metrics_by_name:
            failures.append(f"{owner}: not run, but --fail-under names it ({key})")
    for owner, metrics in metrics_by_name.items():
        for key, minimum in thresholds.items():
            prefix, _, name = key.rpartition(":")
            if prefix and prefix != owner:
                continue
            value = metrics.get(name)
            if value is None:
                failures.append(f"{owner}: {name} is undefined (threshold {minimum})")
            elif value < minimum:
                failures.append(f"{owner}: {name} = {value:.4f} < {minimum}")
    return failures


def _resolve_corpus(corpus: str, suite_path: str | None) -> Path:
    """A suite's corpus folder: as given, else relative to the suite file or its parents."""
    candidate = Path(corpus)
    if candidate.is_absolute() or candidate.is_dir():
        return candidate
    if suite_path:
        for parent in Path(suite_path).resolve().parents:
            if (parent / corpus).is_dir():
                return parent / corpus
    raise click.UsageError(f"The suite's corpus folder '{corpus}' was not found.")


def _suite_index(settings, corpus: Path, progress: bool):
    """Settings whose index is the suite's corpus, indexed (incrementally) into its own dir."""
    from evals.datasets.cache import cached_index_settings
    from index.pipeline import ingest

    # keyed by the folder and the indexing settings (the embedding backend too)
    index = cached_index_settings(
        settings.index, "evals", corpus.resolve().name, str(corpus.resolve())
    )
    try:
        index.data_dir.mkdir(parents=True, exist_ok=True)
        ingest([corpus], index, progress=progress)
    except _index_errors() as err:
        raise EvalError(f"Could not index the suite's corpus {corpus}: {err}") from None
    return settings.model_copy(update={"index": index})


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, unit="q", leave=False)


def _run_suite_backends(suite, settings, backends, judge_name) -> dict[str, Any]:
    from evals.report import report_json
    from evals.runner import run_suite
    from evals.suite import steps_of
    from rag.assistant import Assistant
    from rag.backends.base import BackendError
    from rag.backends.registry import create

    assistant = Assistant.from_settings(settings)
    problem = assistant.index_problem()
    if problem:
        raise EvalError(problem)
    judge = None
    if judge_name:
        try:
            judge = create(judge_name, settings)
        except BackendError as err:
            raise click.UsageError(f"--judge: {err}") from None
    runs = []
    n_steps = len(steps_of(suite))
    for name in backends:
        with _progress(n_steps, name) as bar:
            runs.append(
                run_suite(suite, assistant, name, judge=judge, on_step=lambda _r: bar.update())
            )
    return report_json(suite.name, runs)


def _finish(report: dict[str, Any], out_dir: Path, as_json: bool, thresholds: dict[str, float]):
    from evals.report import markdown_summary, write_outputs

    paths = write_outputs(report, out_dir)
    summary = markdown_summary(report)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        click.echo(summary, err=True)
    else:
        click.echo(summary)
    click.echo(f"Wrote {paths['json']}, {paths['markdown']} and {paths['html']}.", err=as_json)
    metrics = {name: data["metrics"] for name, data in report["backends"].items()}
    _exit_on_failures(metrics, thresholds)


def _exit_on_failures(metrics: dict[str, dict[str, Any]], thresholds: dict[str, float]) -> None:
    failures = check_thresholds(metrics, thresholds)
    for line in failures:
        click.echo(f"FAIL {line}", err=True)
    if failures:
        sys.exit(1)


def _run_beir(ctx, directory: str, as_json: bool, fail_under: tuple[str, ...]) -> None:
    from evals.datasets.beir import BeirError, load_beir
    from evals.retrieval_eval import MODES, beir_markdown, run_beir

    known = tuple(
        f"{mode}.{k}"
        for mode in MODES
        for k in ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10")
    )
    thresholds = parse_thresholds(fail_under, known)
    settings = settings_from_context(ctx)
    try:
        n_queries = len(load_beir(directory).queries)
        with _progress(n_queries * len(MODES), "beir") as bar:
            result = run_beir(directory, settings, progress=True, on_query=bar.update)
    except BeirError as err:
        raise EvalError(str(err)) from None
    except _index_errors() as err:
        raise EvalError(f"Could not index or search {directory}: {err}") from None
    if as_json:
        click.echo(json.dumps(result))
    click.echo(beir_markdown(result), err=as_json)
    flat = {f"{mode}.{k}": v for mode, scores in result["modes"].items() for k, v in scores.items()}
    _exit_on_failures({"beir": flat}, thresholds)


@click.command("eval")
@click.argument("suites", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--backend", "backends", multiple=True, help="Backend to evaluate (repeatable).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="report",
    show_default=True,
    help="Folder for results.json, summary.md, report.html.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option(
    "--fail-under",
    multiple=True,
    metavar="[BACKEND:]METRIC=VALUE",
    help="Exit 1 when a metric is below VALUE (repeatable; BACKEND: limits it to one backend).",
)
@click.option("--judge", default=None, metavar="BACKEND", help="LLM judge backend (optional).")
@click.option(
    "--beir",
    "beir_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Retrieval-only benchmark on a BEIR dataset folder.",
)
@click.option(
    "--squad",
    "squad_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Evaluate on a SQuAD v1.1 JSON file.",
)
@click.option(
    "--sample", type=int, default=100, show_default=True, help="SQuAD questions to sample (0: all)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="SQuAD sampling seed.")
@click.option("--squad-open", type=click.Path(dir_okay=False), help="Open-book SQuAD file.")
@click.option("--unanswerable", type=click.Path(dir_okay=False), help="SQuAD file to refuse on.")
@click.option("--kind", type=click.Choice(["out-of-corpus", "near-miss"]), default="out-of-corpus")
@click.option(
    "--split",
    type=click.Choice(["dev", "test"]),
    default=None,
    help="Ask only the committed dev or test questions (tune on dev). Answering evals: dev.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Ask only the first N questions."
)
@click.option(
    "--claims",
    "claims",
    is_flag=True,
    help="The claim and premise checkers on labelled SQuAD and SciFact claims (../shared).",
)
@click.option(
    "--export-feedback",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the web chat's thumbs-down answers to FILE as a suite to complete.",
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    suites: tuple[str, ...],
    backends: tuple[str, ...],
    out_dir: str,
    as_json: bool,
    fail_under: tuple[str, ...],
    judge: str | None,
    beir_dir: str | None,
    squad_file: str | None,
    sample: int,
    seed: int,
    squad_open: str | None,
    unanswerable: str | None,
    kind: str,
    split: str | None,
    limit: int | None,
    export_feedback: str | None,
    claims: bool = False,
) -> None:
    """Measure retrieval, answers, citations and refusals per backend."""
    if export_feedback:
        from evals.feedback_export import export_command

        click.echo(export_command(settings_from_context(ctx), Path(export_feedback)))
        return
    if claims:
        from evals.answering.claims_eval import CLAIMS_METRICS, claims_report

        thresholds = parse_thresholds(fail_under, CLAIMS_METRICS)
        try:
            text, metrics = claims_report(split or "dev", limit)
        except (OSError, ValueError) as err:
            raise EvalError(str(err)) from None
        click.echo(text)
        _exit_on_failures({"claims": metrics}, thresholds)
        return
    chosen = sum(bool(x) for x in (suites, beir_dir, squad_file, squad_open, unanswerable))
    if chosen != 1:
        raise click.UsageError(
            "Give suite files, or --beir DIR, --squad FILE, --squad-open FILE or "
            "--unanswerable FILE (one of them)."
        )
    if beir_dir:
        _run_beir(ctx, beir_dir, as_json, fail_under)
        return
    if squad_open or unanswerable:
        from evals.answering.cli import answering_command

        answering_command(
            settings_from_context(ctx),
            squad_open=squad_open,
            unanswerable=unanswerable,
            kind=kind,
            split=split or "dev",
            backends=backends,
            limit=limit,
            out_dir=Path(out_dir),
            as_json=as_json,
            fail_under=fail_under,
        )
        return
    from evals.suite import SuiteError, combine, load_suite, split_suite
    from rag.backends.registry import UnknownBackend, check_name

    thresholds = parse_thresholds(fail_under, FIXED_METRICS)
    settings = settings_from_context(ctx)
    greedy = settings.llm.model_copy(update={"temperature": 0.0})
    settings = settings.model_copy(update={"llm": greedy})
    backends = backends or (settings.llm.backend,)
    for name in (*backends, *([judge] if judge else [])):
        try:
            check_name(name)
        except UnknownBackend as err:
            raise click.UsageError(str(err)) from None
    if squad_file:
        from evals.datasets.cache import cached_index_settings, ensure_index
        from evals.datasets.squad import SquadError, load_squad

        try:
            squad = load_squad(squad_file, sample=sample, seed=seed)
        except SquadError as err:
            raise EvalError(str(err)) from None
        index = cached_index_settings(
            settings.index, "squad", Path(squad_file).stem, squad.fingerprint
        )
        try:
            ensure_index(squad.documents, index, progress=sys.stderr.isatty())
        except _index_errors() as err:
            raise EvalError(f"Could not index {squad_file}: {err}") from None
        settings = settings.model_copy(update={"index": index})
        suite = squad.suite
    else:
        try:
            loaded = [load_suite(p) for p in suites]
            suite = combine([split_suite(s, split) if split else s for s in loaded])
            if limit is not None:  # the first N cases, as for the SQuAD question sets
                suite = suite.model_copy(update={"cases": suite.cases[:limit]})
        except SuiteError as err:
            raise EvalError(str(err)) from None
        if suite.corpus:
            corpus = _resolve_corpus(suite.corpus, suite.path)
            settings = _suite_index(settings, corpus, sys.stderr.isatty())
    report = _run_suite_backends(suite, settings, backends, judge)
    _finish(report, Path(out_dir), as_json, thresholds)
