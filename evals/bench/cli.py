"""`rag bench [--json] [--out DIR] [--quick]`, `rag bench --report FILE...`: measure, or render.

Measuring: parses options, runs `evals.bench.run.run_bench`, prints rich tables (progress goes
to stderr) or, with --json, one JSON object on stdout; --out DIR also writes bench.json (the
same object) and bench.md. Rendering: `--report` prints the README's performance tables made
from committed bench.json files (evals/bench/readme.py) and measures nothing. Bad input (a
missing dataset folder or file, an unreadable bench.json) is a one-line error. The
measurements themselves live in the other evals/bench modules.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from evals.bench.options import SECTIONS
from rag.cli import settings_from_context


@click.command("bench")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write bench.json and bench.md into this folder.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Small subsets: 50 SciFact docs, 15 queries, a 1k-chunk scale point (200 of them "
    "real text, the rest variants), 2 answers, one run each against the peer.",
)
@click.option(
    "--scifact",
    type=click.Path(path_type=Path),
    default=None,
    help="BEIR SciFact folder (default: ../shared/datasets/scifact beside the repo).",
)
@click.option(
    "--squad",
    type=click.Path(path_type=Path),
    default=None,
    help="SQuAD v1.1 dev JSON used for the scale collection.",
)
@click.option(
    "--corpus",
    "corpus",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Default corpus to index (repeatable; default: index.default_paths).",
)
@click.option("--scale-chunks", type=click.IntRange(100, 1_000_000), default=None,
              help="Size of the large collection (default 100,000; quick 1,000).")  # fmt: skip
@click.option("--reps", type=click.IntRange(1, 20), default=None,
              help="Alternating repetitions against the peer (default 3; quick 2).")  # fmt: skip
@click.option(
    "--skip",
    type=click.Choice(list(SECTIONS)),
    multiple=True,
    help="Leave a section out (repeatable; index includes retrieval on SciFact).",
)
@click.option("--remote-embedder", "remote_chunks", type=click.IntRange(100, 100_000),
              default=None, help="Also index ~N SciFact chunks through `rag serve`'s "
              "/v1/embeddings and in-process (opt-in row).")  # fmt: skip
@click.option("--scifact-docs", "max_docs", type=click.IntRange(10, 10_000), default=None,
              help="SciFact documents of the index section (default: all; quick 100).")  # fmt: skip
@click.option("--answers", "answer_questions", type=click.IntRange(1, 1_000), default=None,
              help="Suite questions the answer section asks (default: all; quick 3).")  # fmt: skip
@click.option(
    "--report",
    "report",
    is_flag=True,
    help="Measure nothing: print the README's performance tables from the bench.json FILES.",
)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def bench_command(
    ctx: click.Context,
    report: bool,
    files: tuple[Path, ...],
    as_json: bool,
    out_dir: Path | None,
    quick: bool,
    scifact: Path | None,
    squad: Path | None,
    corpus: tuple[Path, ...],
    scale_chunks: int | None,
    reps: int | None,
    skip: tuple[str, ...],
    remote_chunks: int | None,
    max_docs: int | None = None,
    answer_questions: int | None = None,
) -> None:
    """Measure indexing, retrieval quality and latency, answer speed, and the LangChain peer.

    With --report, measure nothing: print the README's performance tables from FILES.
    """
    if report or files:
        _report(report, files)
        return
    from rich.console import Console

    from evals.bench.options import BenchOptions
    from evals.bench.report import markdown, render
    from evals.bench.results import to_json
    from evals.bench.run import run_bench
    from evals.datasets.beir import BeirError

    settings = settings_from_context(ctx)
    given: dict[str, Any] = {
        "scifact": scifact,
        "squad": squad,
        "corpus": list(corpus) or None,
        "scale_chunks": scale_chunks,
        "reps": reps,
        "skip": skip or None,
        "remote_chunks": remote_chunks,
        "max_docs": max_docs,
        "answer_questions": answer_questions,
    }
    config_file = (ctx.find_root().obj or {}).get("config_file")
    given["config_file"] = Path(config_file).resolve() if config_file else None
    if quick:
        options = BenchOptions.quick_defaults(**given)
    else:
        options = BenchOptions(**{k: v for k, v in given.items() if v is not None})
    for name, path in (("--scifact", options.scifact), ("--squad", options.squad)):
        needed = "scale" if name == "--squad" else None
        if needed in options.skip:
            continue
        if not path.exists():
            raise click.UsageError(f"{name}: {path} does not exist.")
    for path in options.corpus:
        if not path.exists():
            raise click.UsageError(f"--corpus: {path} does not exist.")
    err = Console(stderr=True)

    def log(message: str) -> None:
        err.print(f"[dim]bench:[/dim] {message}", highlight=False)

    try:
        # Libraries that print progress (the ONNX exporter) must not corrupt --json stdout.
        with contextlib.redirect_stdout(sys.stderr):
            result = run_bench(settings, options, log)
    except BeirError as exc:
        raise click.UsageError(f"--scifact: {exc}") from None
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "bench.json").write_text(json.dumps(to_json(result), indent=2) + "\n")
            (out_dir / "bench.md").write_text(markdown(result))
        except OSError as exc:
            raise click.ClickException(f"Could not write to {out_dir}: {exc}") from None
    if as_json:
        click.echo(json.dumps(to_json(result), indent=2))
    else:
        render(result, Console())


def _report(report: bool, files: tuple[Path, ...]) -> None:
    from evals.bench.readme import ReportError, load_runs, performance_markdown

    if not report:
        raise click.UsageError("FILES are read only with --report.")
    if not files:
        raise click.UsageError("--report needs one or more bench.json files (or their folders).")
    for path in files:
        if not path.exists():
            raise click.UsageError(f"--report: {path} does not exist.")
    try:
        runs = load_runs(list(files))
    except ReportError as err:
        raise click.ClickException(str(err)) from None
    click.echo(performance_markdown(runs), nl=False)
