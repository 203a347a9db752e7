"""One FastAPI server for the web chat (Gradio, at "/") and the OpenAI-compatible API (/v1).

`create_app` wires the pieces and the optional basic auth; `serve` runs it with uvicorn and
prints the URL once the socket is listening (port 0 picks a free port, and the printed URL has
the real one). Basic auth (`server.auth`, 'user:pass') covers the whole server; /v1 is left to
its API key when one is configured, because API clients send `Authorization: Bearer`.
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

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.config import Settings


def parse_auth(value: str) -> tuple[str, str]:
    """'user:pass' -> (user, pass). Raises ValueError with a readable message."""
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth must look like USER:PASSWORD (both non-empty).")
    return user, password


class BasicAuthMiddleware:
    """HTTP basic auth for every request except the paths that have their own key."""

    def __init__(
        self, app: ASGIApp, user: str, password: str, exempt: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.expected = f"{user}:{password}".encode()
        self.exempt = exempt

    def _allowed(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        if any(path == p or path.startswith(p + "/") for p in self.exempt):
            return True
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "basic":
                    return False
                try:
                    given = base64.b64decode(token.strip(), validate=True)
                except (binascii.Error, ValueError):
                    return False
                return secrets.compare_digest(given, self.expected)
        return False

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
    )
    if settings.server.auth:
        user, password = parse_auth(settings.server.auth)
        exempt = ("/v1",) if os.environ.get(settings.server.api_key_env) else ()
        app.add_middleware(BasicAuthMiddleware, user=user, password=password, exempt=exempt)
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

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    Server(config).run()
