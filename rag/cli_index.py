"""`rag index [PATH ...] [--rebuild] [--json] [--chroma-url URL] [--status] [--collection NAME]`.

Builds or updates the index (see `index.pipeline`) and prints a summary table, or one JSON
object (`IngestReport.as_json()`) with --json. --collection indexes into a named collection
of the data dir (made on first use; see `IndexSettings.for_collection`). Expected failures
(settings that differ from the index's, an unreachable Chroma server, another run holding
the lock, a model that cannot load) end with one line on stderr and exit status 2. It lives
on the CLI side so that `index` imports nothing from `rag`; it holds no indexing logic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from index.types import IndexStatus, IngestReport

EXIT_USER_ERROR = 2


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_USER_ERROR)


def _print_report(report: IngestReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="rag index: summary", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    rows = [
        ("documents in the index", report.documents),
        ("chunks in the index", report.chunks),
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
        ("skipped", len(report.skipped)),
        ("chunks embedded", report.embedded_chunks),
        ("seconds", f"{report.seconds:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    if report.timings:
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
        console.print(f"[dim]time: {parts}[/dim]")
    if report.skipped:
        skipped = Table(title="skipped", show_header=True)
        skipped.add_column("path")
        skipped.add_column("reason")
        for item in report.skipped:
            skipped.add_row(item.path, item.reason)
        console.print(skipped)


def _print_status(status: IndexStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="index status", show_header=False)
    for key, value in status.as_json().items():
        table.add_row(key, str(value))
    Console().print(table)


@click.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Drop the index and re-index everything.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--chroma-url", default=None, help="Use a Chroma server (http://HOST:PORT).")
@click.option("--status", "show_status", is_flag=True, help="Show what the index holds.")
@click.option(
    "--collection", default="default", help="Index into this named collection (default: default)."
)
@click.pass_context
def index_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    rebuild: bool,
    as_json: bool,
    chroma_url: str | None,
    show_status: bool,
    collection: str,
) -> None:
    """Index files and folders (default: the configured corpus) for answering."""
    from index.embedding import EmbeddingError
    from index.pipeline import IndexBusyError, index_status, ingest
    from index.store import IndexMismatchError, StoreError
    from rag.cli import settings_from_context

    settings = settings_from_context(ctx, {"index": {"chroma_url": chroma_url}}).index
    try:
        settings = settings.for_collection(collection)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--collection") from None
    try:
        if show_status:
            status = index_status(settings)
            if as_json:
                click.echo(json.dumps(status.as_json()))
            else:
                _print_status(status)
            return
        targets = list(paths) or list(settings.default_paths)
        report = ingest(targets, settings, rebuild=rebuild, progress=not as_json)
    except (IndexMismatchError, StoreError, IndexBusyError, EmbeddingError) as err:
        _fail(str(err))
        return
    except KeyboardInterrupt:
        _fail("interrupted; the next `rag index` finishes the job.")
        return
    if as_json:
        click.echo(json.dumps(report.as_json()))
    else:
        _print_report(report)
