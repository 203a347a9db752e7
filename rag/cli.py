"""The `rag` command: a click group whose subcommands are imported only when used.

Each subcommand lives beside the code it drives (`index/cli.py`, `rag/cli_ask.py`,
`ui/cli.py`, `evals/cli.py`, ...), so `rag ask` does not pay for importing Gradio.
This module holds the group, the shared options (`--config`, `--data-dir`), settings
loading for commands, and `rag config`. User mistakes end with a one-line message and
exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

import click

# Commands -> "module:attribute", imported lazily.
COMMANDS = {
    "config": "rag.cli:config_command",
    "index": "index.cli:index_command",
    "ask": "rag.cli_ask:ask_command",
    "chat": "rag.cli_ask:chat_command",
    "backends": "rag.backends.cli:backends_command",
    "serve": "ui.cli:serve_command",
    "eval": "evals.cli:eval_command",
    "bench": "evals.bench_cli:bench_command",
}


def _offline_environment() -> None:
    """Nothing may download at run time, and nothing phones home."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            raise click.ClickException(
                f"'rag {cmd_name}' is not available in this install ({err})."
            ) from None
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Settings file (default: ./rag.toml if present, or $RAG_CONFIG).",
)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Index folder.")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, data_dir: str | None) -> None:
    """ragchat: answers questions over a folder of documents, with checked citations."""
    _offline_environment()
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    ctx.obj["overrides"] = {"index": {"data_dir": data_dir}} if data_dir else {}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge flag overrides; None values (flags not given) are left out."""
    out = dict(base)
    for key, value in extra.items():
        if value is None:
            continue
        if isinstance(value, dict):
            out[key] = merge(out.get(key, {}), value)
        else:
            out[key] = value
    return out


def settings_from_context(ctx: click.Context, overrides: dict[str, Any] | None = None):
    """Load the effective Settings for a command: file < env < group flags < command flags."""
    from rag.config import ConfigError, load_settings

    root = ctx.find_root().obj or {}
    merged = merge(root.get("overrides", {}), overrides or {})
    try:
        return load_settings(merged, root.get("config_file"))
    except ConfigError as err:
        raise click.UsageError(str(err)) from None


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def config_command(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings, with where to change them."""
    from rag.config import config_path, describe

    settings = settings_from_context(ctx)
    if as_json:
        click.echo(json.dumps(settings.model_dump(mode="json"), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    path = config_path(ctx.find_root().obj.get("config_file"))
    table = Table(title=f"Effective settings (file: {path or 'none'})", show_lines=False)
    table.add_column("setting", style="bold")
    table.add_column("value")
    table.add_column("env variable", style="dim")
    table.add_column("description")
    for name, value, description in describe(settings):
        env = "RAG_" + name.upper().replace(".", "__")
        table.add_row(name, repr(value) if not isinstance(value, str) else value, env, description)
    Console().print(table)


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
