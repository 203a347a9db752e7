"""`rag ask` and `rag chat`: questions from the terminal, answered with checked citations.

`rag ask "QUESTION" [--backend NAME] [--json] [--top-k N] [--source FILE] [--collection NAME]`
answers one question (from the named collection, default: the default one); `rag ask -`
answers one question per line of standard input (one JSON object per line with --json).
`rag chat` is a conversation: the answer streams, then its numbered sources and any
unsupported sentence are shown; "exit", "quit" or Ctrl-D ends it. Everything goes through
`rag.assistant.Assistant`; this module only parses flags and prints. User mistakes (no index,
unknown backend, source or collection) end with one line and exit status 2.
"""

from __future__ import annotations

import json
import sys
import textwrap

import click

from rag.cli import settings_from_context


def _assistant(
    ctx: click.Context,
    backend: str | None,
    top_k: int | None,
    sources: tuple,
    collection: str = "default",
):
    from index.store import collection_names
    from rag.assistant import Assistant
    from rag.backends import registry

    overrides = {
        "llm": {"backend": backend},
        "retrieval": {"top_k": top_k, "sources": list(sources) or None},
    }
    settings = settings_from_context(ctx, overrides)
    known = collection_names(settings.index)
    if collection not in known:
        raise click.BadParameter(
            f"unknown collection {collection!r} (collections: {', '.join(known)}); create it "
            f"with `rag index PATH --collection {collection}`.",
            param_hint="--collection",
        )
    settings = settings.model_copy(update={"index": settings.index.for_collection(collection)})
    if backend:
        try:
            registry.check_name(backend)
        except registry.UnknownBackend as err:
            raise click.UsageError(str(err)) from None
    assistant = Assistant.from_settings(settings)
    problem = assistant.index_problem()
    if problem:
        click.echo(problem, err=True)
        ctx.exit(2)
    problem = assistant.source_problem(sources)
    if problem:
        raise click.UsageError(problem)
    return assistant


def format_answer(answer) -> str:
    """The answer for people: text, flagged sentences, then the numbered sources."""
    lines = [answer.text]
    if answer.fallback:
        lines.append("(The model's answer was not supported by the documents; quoting them.)")
    unsupported = [s for s in answer.sentences if not s.supported]
    if unsupported and not answer.fallback:
        lines.append("")
        lines.append("Not supported by the cited documents:")
        lines.extend(f"  ! {s.sentence}" for s in unsupported)
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            lines.append(f"  [{c.n}] {c.title or c.source} ({c.source}, chars {c.start}-{c.end})")
            quote = " ".join(c.text.split())
            lines.append(textwrap.indent(textwrap.fill(f"“{quote}”", width=92), "      "))
    if answer.abstained and answer.abstain_reason:
        lines.append(f"(reason: {answer.abstain_reason})")
    return "\n".join(lines)


@click.command("ask")
@click.argument("question")
@click.option("--backend", default=None, help="Backend that answers (see `rag backends`).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Chunks of context.")
@click.option("--source", "sources", multiple=True, help="Only search this file (repeatable).")
@click.option("--collection", default="default", help="Answer from this named collection.")
@click.pass_context
def ask_command(
    ctx: click.Context,
    question: str,
    backend: str | None,
    as_json: bool,
    top_k: int | None,
    sources: tuple[str, ...],
    collection: str,
) -> None:
    """Answer QUESTION from the indexed documents ("-": one question per line of stdin)."""
    assistant = _assistant(ctx, backend, top_k, sources, collection)
    questions = (
        [line.strip() for line in sys.stdin if line.strip()] if question == "-" else [question]
    )
    failed = False
    for i, q in enumerate(questions):
        answer = assistant.ask(q)
        failed = failed or answer.error is not None
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
            continue
        if len(questions) > 1:
            click.echo(("\n" if i else "") + f"Q: {q}")
        click.echo(format_answer(answer), err=answer.error is not None)
    if failed:
        ctx.exit(1)


@click.command("chat")
@click.option("--backend", default=None, help="Backend that answers (see `rag backends`).")
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Chunks of context.")
@click.option("--source", "sources", multiple=True, help="Only search this file (repeatable).")
@click.option("--collection", default="default", help="Answer from this named collection.")
@click.pass_context
def chat_command(
    ctx: click.Context,
    backend: str | None,
    top_k: int | None,
    sources: tuple[str, ...],
    collection: str,
) -> None:
    """A conversation over the indexed documents ("exit" or Ctrl-D ends it)."""
    from rag.types import AnswerStream, Message

    assistant = _assistant(ctx, backend, top_k, sources, collection)
    history: list[Message] = []
    click.echo('Ask about the documents. "exit" or Ctrl-D ends the conversation.')
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if question.lower() in {"exit", "quit", ":q"}:
            return
        if not question:
            continue
        click.echo("assistant> ", nl=False)
        streamed: list[str] = []
        stream = AnswerStream(assistant.stream(question, history))
        for piece in stream:
            streamed.append(piece)
            click.echo(piece, nl=False)
        click.echo()
        final = stream.answer
        if "".join(streamed).strip() != final.text.strip():
            click.echo("checked answer> " + final.text)
        rest = format_answer(final).split("\n", 1)
        if len(rest) > 1:
            click.echo(rest[1])
        history += [Message("user", question), Message("assistant", final.text)]
