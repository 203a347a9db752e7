"""`rag backends [--json]`: every registered backend with its state, model and detail.

States: available, missing package, unreachable, misconfigured. The check is cheap (no
model is loaded; a server gets one short `GET /models`). This command only reports; the
backend that answers is chosen by `llm.backend` / `rag ask --backend`.
"""

from __future__ import annotations

import json

import click

from rag.cli import settings_from_context

_STYLE = {
    "available": "green",
    "missing package": "yellow",
    "unreachable": "red",
    "misconfigured": "red",
}


@click.command("backends")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object a backend.")
@click.pass_context
def backends_command(ctx: click.Context, as_json: bool) -> None:
    """List the answer backends and whether each one can answer now."""
    from rag.backends.registry import statuses

    settings = settings_from_context(ctx)
    found = statuses(settings)
    if as_json:
        rows = [dict(s.to_json(), default=s.name == settings.llm.backend) for s in found]
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Answer backends (default marked *)")
    table.add_column("backend", style="bold")
    table.add_column("state")
    table.add_column("model", overflow="fold")
    table.add_column("detail", overflow="fold")
    for status in found:
        mark = " *" if status.name == settings.llm.backend else ""
        style = _STYLE.get(status.state, "")
        table.add_row(
            escape(status.name) + mark,
            f"[{style}]{status.state}[/]",
            escape(status.model),
            escape(status.detail),
        )
    Console().print(table)
