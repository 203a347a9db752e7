"""`rag serve`: the web chat and the OpenAI-compatible API on one local server.

Parses the flags, loads settings like every other command, checks them, and hands over to
`ui.server.serve`. Mistakes (bad --auth, unknown backend, port in use) end with one line.
"""

from __future__ import annotations

import contextlib

import click

from rag.cli import settings_from_context


@click.command("serve")
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1: this machine).")
@click.option("--port", type=int, default=None, help="Port (default 7860; 0 picks a free one).")
@click.option(
    "--auth",
    multiple=True,
    metavar="USER:PASS",
    help="Require basic auth (repeat for several users; each sees only their conversations).",
)
@click.option("--backend", default=None, help="Backend selected when the chat opens.")
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    auth: tuple[str, ...],
    backend: str | None,
) -> None:
    """Serve the web chat on http://HOST:PORT/ and the API on /v1."""
    from rag.backends import registry
    from ui.server import check_port_free, parse_auth, serve

    overrides = {
        "server": {"host": host, "port": port, "auth": ",".join(auth) or None},
        "llm": {"backend": backend},
    }
    settings = settings_from_context(ctx, overrides)
    if settings.server.auth:
        try:
            parse_auth(settings.server.auth)
        except ValueError as err:
            raise click.UsageError(str(err)) from None
    try:
        registry.check_name(settings.llm.backend)
    except registry.UnknownBackend as err:
        raise click.UsageError(str(err)) from None
    try:
        check_port_free(settings.server.host, settings.server.port)
    except OSError as err:
        raise click.ClickException(str(err)) from None
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        serve(settings)
