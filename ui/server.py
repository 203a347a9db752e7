"""One FastAPI server for the web chat (Gradio, at "/") and the OpenAI-compatible API (/v1).

`create_app` wires the pieces and the optional basic auth; `serve` runs it with uvicorn and
prints the URL once the socket is listening (port 0 picks a free port, and the printed URL has
the real one). Basic auth (`server.auth`, 'user:pass', several users separated by commas)
covers the whole server, and the signed-in name is the Gradio user (`gr.Request.username`),
which keeps each user's conversations apart; /v1 is left to its API key when one is
configured, because API clients send `Authorization: Bearer`.
This module holds no chat or retrieval logic.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import socket
import sys
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.config import Settings


def parse_auth(value: str) -> dict[str, str]:
    """'ann:pw1,bob:pw2' -> {'ann': 'pw1', 'bob': 'pw2'}. Raises ValueError, readably."""
    users: dict[str, str] = {}
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError(
                "--auth must look like USER:PASSWORD (both non-empty; several users: "
                "USER:PASSWORD,USER2:PASSWORD2)."
            )
        if user in users:
            raise ValueError(f"--auth names the user '{user}' twice.")
        users[user] = password
    return users


def basic_credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic` header, None when there is none."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                given = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                return None
            user, sep, password = given.partition(":")
            return (user, password) if sep else None
    return None


class BasicAuthMiddleware:
    """HTTP basic auth for every request except the paths that have their own key."""

    def __init__(self, app: ASGIApp, users: dict[str, str], exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.users = {user: password.encode() for user, password in users.items()}
        self.exempt = exempt

    def _allowed(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        if any(path == p or path.startswith(p + "/") for p in self.exempt):
            return True
        given = basic_credentials(scope.get("headers", []))
        if given is None:
            return False
        # compare against a dummy for unknown users too, so timing does not reveal names
        expected = self.users.get(given[0], b"\0" * 16)
        return secrets.compare_digest(given[1].encode(), expected) and given[0] in self.users

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", b'Basic realm="ragchat", charset="UTF-8"'),
                    (b"content-type", b"text/plain; charset=utf-8"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"Authentication required.\n"})


def create_app(settings: Settings, assistant: Any | None = None) -> FastAPI:
    """The FastAPI app: /v1 routes, then Gradio mounted at '/'."""
    import gradio as gr

    from rag.assistant import Assistant
    from ui.api import build_router, install_error_handler
    from ui.app import build_blocks
    from ui.render import CSS

    if assistant is None:
        assistant = Assistant.from_settings(settings)
    app = FastAPI(title="ragchat", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handler(app)
    app.include_router(build_router(assistant, settings))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    blocks = build_blocks(settings, assistant)
    blocks.queue(default_concurrency_limit=settings.server.concurrency)
    users = parse_auth(settings.server.auth) if settings.server.auth else None

    def signed_in_user(request: Request) -> str | None:
        """The basic-auth user (the middleware already checked the password)."""
        given = basic_credentials(list(request.headers.raw))
        return given[0] if given else None

    app = gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        server_name=settings.server.host,
        server_port=settings.server.port,
        footer_links=[],
        run_history=False,
        css=CSS,
        theme=gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["monospace"]),
        max_file_size=f"{int(settings.server.max_upload_mb * 1024)}kb",
        ssr_mode=False,
        mcp_server=False,
        auth_dependency=signed_in_user if users else None,
    )
    if users:
        exempt = ("/v1",) if os.environ.get(settings.server.api_key_env) else ()
        app.add_middleware(BasicAuthMiddleware, users=users, exempt=exempt)
    return app


def check_port_free(host: str, port: int) -> None:
    """Raise OSError with a readable message when host:port cannot be bound."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise OSError(
                f"Cannot listen on {host}:{port} ({err.strerror}). "
                "Is another server running? Pick another port with --port."
            ) from None


def serve(settings: Settings) -> None:
    """Run the server until interrupted; print the URL when it is ready."""
    import uvicorn

    from rag.assistant import Assistant

    host, port = settings.server.host, settings.server.port
    check_port_free(host, port)
    assistant = Assistant.from_settings(settings)
    problem = assistant.index_problem()  # also opens the index before the first question
    if problem:  # not fatal: documents can be uploaded from the browser
        print(f"Note: {problem}", file=sys.stderr)
    app = create_app(settings, assistant)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.should_exit:
                return
            bound = port
            for server in self.servers:
                for sock in server.sockets:
                    bound = sock.getsockname()[1]
            shown = f"[{host}]" if ":" in host else host
            print(f"ragchat is running on http://{shown}:{bound}/", flush=True)
            print(f"OpenAI-compatible API: http://{shown}:{bound}/v1", flush=True)

    # An open browser tab keeps a heartbeat stream that would hold Ctrl-C for ~15 s.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    Server(config).run()
