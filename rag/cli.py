"""The `rag` command: a click group whose subcommands are imported only when used.

Each subcommand lives in its own module (`rag/cli_index.py`, `rag/cli_ask.py`,
`ui/cli.py`, `evals/cli.py`, ...), so `rag ask` does not pay for importing Gradio.
This module holds the group, the shared options (`--config`, `--data-dir`), settings
loading for commands, and `rag config`. User mistakes end with a one-line message and
exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import click

from index.offline import set_offline

# Commands -> ("module:attribute", one-line help), imported lazily: `rag --help` imports none.
COMMANDS = {
    "index": (
        "rag.cli_index:index_command",
        "Index documents (incremental; --rebuild starts over).",
    ),
    "ask": ("rag.cli_ask:ask_command", "Answer a question from the documents, with citations."),
    "chat": ("rag.cli_ask:chat_command", "A conversation in the terminal, streamed, cited."),
    "serve": ("ui.cli:serve_command", "Start the web chat and the OpenAI-compatible API."),
    "backends": ("rag.backends.cli:backends_command", "List model backends and their status."),
    "eval": ("evals.cli:eval_command", "Run eval suites and report metrics per backend."),
    "bench": ("evals.bench.cli:bench_command", "Measure indexing, retrieval and answer speed."),
    "config": ("rag.cli:config_command", "Print the effective settings."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
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
    set_offline()  # nothing may download at run time, and nothing phones home
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    ctx.obj["overrides"] = {"index": {"data_dir": data_dir}} if data_dir else {}


class InputError(click.ClickException):
    """A bad settings file or value the user gave: one `Error:` line, exit status 2, and no
    usage text (the command line itself was fine)."""

    exit_code = 2


def settings_from_context(ctx: click.Context, overrides: dict[str, Any] | None = None):
    """Load the effective Settings for a command: file < env < group flags < command flags."""
    from rag.config import ConfigError, deep_merge, load_settings

    root = ctx.find_root().obj or {}
    # flags not given are None and leave the settings as they are
    merged = deep_merge(root.get("overrides", {}), overrides or {}, drop_none=True)
    try:
        return load_settings(merged, root.get("config_file"))
    except ConfigError as err:
        raise InputError(str(err)) from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def config_command(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings as commented TOML (a valid rag.toml)."""
    from rag.config import config_path, describe

    settings = settings_from_context(ctx)
    if as_json:
        click.echo(json.dumps(settings.model_dump(mode="json"), indent=2))
        return
    path = config_path(ctx.find_root().obj.get("config_file"))
    lines = [
        f"# Effective settings. Read from: defaults, {path or 'no rag.toml'}, RAG_* environment,",
        "# then flags. Environment names: RAG_<SECTION>__<KEY>, e.g. RAG_RETRIEVAL__TOP_K=8.",
        "# A backend's options are the table [llm.<backend>] ('-' in its name written '_'),",
        "# e.g. RAG_LLM__OPENAI__BASE_URL=http://127.0.0.1:8080/v1.",
    ]
    section = None
    for name, value, description in describe(settings):
        group, _, key = name.rpartition(".")
        if group != section:
            section = group
            lines += ["", f"[{group}]"]
        lines.append(f"# {description}")
        lines.append(f"# {key} =" if value is None else f"{key} = {_toml_value(value)}")
    click.echo("\n".join(lines))


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
