"""The web app of ``sense serve`` (Starlette; the ``serve`` extra): the control page and its JSON/WebSocket API.

Every ``/api`` route and the ``/api/live`` WebSocket check the pairing token (``Authorization: Bearer TOKEN``, or
``?token=TOKEN`` where a browser cannot set headers: the WebSocket) before anything else; the page and its assets
are static files that reach nothing on their own.

| route | what |
|---|---|
| ``GET /`` | the control page (``/static/*``: its script and style) |
| ``GET /api/status`` | :meth:`edge.live.LiveRun.status` |
| ``POST /api/set`` | ``{"mode": "beat", "master": 0.6, "group_gains": {"kick": 0.5}, …}``: all checked, then all applied |
| ``POST /api/source`` | ``{"source": "mic"}`` |
| ``POST /api/reload`` | ``{"pack": "current", "rig": "current"}`` (or a bundled name) |
| ``POST /api/save`` | the live controls into the rig file |
| ``POST /api/token/rotate`` | a new token; clients holding the old one are cut off |
| ``WS /api/live`` | :meth:`~edge.live.LiveRun.snapshot` at :data:`FRAME_RATE_HZ`, with latency and links every few frames |

Errors are ``{"error": "one line"}`` with 400 (bad value: nothing changed), 401 (token), 429 (too many wrong
tokens), 413 (body too large).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from edge.errors import ConfigError, SenseError
from edge.live import LiveRun, link_health, recent_latency_ms
from edge.serve.pairing import Pairing, Verdict

STATIC_DIR = Path(__file__).parent / "static"
FRAME_RATE_HZ = 25.0
"""Live frames per second on the WebSocket (the page needs >= 20)."""
SLOW_EVERY_N_FRAMES = 10
"""Latency and link health ride on every 10th frame (2.5 per second): they change slowly and cost more."""
MAX_BODY_BYTES = 16 * 1024
ROTATED_CLOSE_CODE = 4001
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def _refusal(verdict: Verdict) -> JSONResponse:
    if verdict.limited:
        return _error(
            429,
            f"too many wrong pairing tokens from this address; try again in {verdict.retry_after_s:.0f} s",
            {"Retry-After": str(max(1, round(verdict.retry_after_s)))},
        )
    return _error(401, "missing or wrong pairing token (the URL printed by sense serve carries it)")


def _presented_token(headers: Any, query: Any) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return str(authorization[7:].strip())
    token = query.get("token")
    return str(token) if token is not None else None


class Broadcaster:
    """One producer builds each live frame once; every WebSocket client sends the newest frame when it is ready
    for one (a slow client skips frames instead of slowing the others or the pipeline)."""

    def __init__(self, live: LiveRun) -> None:
        self.live = live
        self.text = ""
        self.version = 0
        self.changed = asyncio.Condition()
        self.clients: dict[WebSocket, str] = {}
        """Each connected client and the token it connected with."""

    async def produce(self) -> None:
        period_s = 1.0 / FRAME_RATE_HZ
        n_frames = 0
        loop = asyncio.get_running_loop()
        next_s = loop.time()
        while True:
            if self.clients:
                frame = self.live.snapshot()
                if n_frames % SLOW_EVERY_N_FRAMES == 0:
                    frame["latency_ms"] = recent_latency_ms(self.live.session)
                    frame["links"] = link_health(self.live.session)
                n_frames += 1
                text = json.dumps(frame, separators=(",", ":"))
                async with self.changed:
                    self.text, self.version = text, self.version + 1
                    self.changed.notify_all()
            next_s = max(next_s + period_s, loop.time())
            await asyncio.sleep(next_s - loop.time())

    async def serve(self, websocket: WebSocket, token: str) -> None:
        self.clients[websocket] = token
        seen = self.version
        try:
            while True:
                async with self.changed:
                    await self.changed.wait_for(lambda: self.version != seen)
                    seen, text = self.version, self.text
                await websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client went away: nothing to undo, it changed nothing by leaving
        finally:
            self.clients.pop(websocket, None)

    async def cut_off(self, keep_token: str) -> None:
        """Close every client that connected with a token other than ``keep_token``."""
        for websocket, token in list(self.clients.items()):
            if token != keep_token and websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await websocket.close(ROTATED_CLOSE_CODE, "pairing token rotated")


def make_app(live: LiveRun, pairing: Pairing, on_rotate: Callable[[str], None] | None = None) -> Starlette:
    """The app for ``live`` guarded by ``pairing``; ``on_rotate(new_token)`` is told of a rotation (the server
    rewrites its state file for ``sense status``)."""
    broadcaster = Broadcaster(live)

    def client_of(scope_client: Any) -> str:
        return scope_client.host if scope_client else "unknown"

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            verdict = pairing.check(_presented_token(request.headers, request.query_params), client_of(request.client))
            if not verdict.ok:
                return _refusal(verdict)
            try:
                response = await handler(request)
            except SenseError as error:  # a bad value: nothing changed
                return _error(400, str(error))
            response.headers.update(SECURITY_HEADERS)
            return response

        return endpoint

    async def body_of(request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise _BodyError(413, f"request body: {len(body)} bytes, at most {MAX_BODY_BYTES}")
        try:
            value = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise _BodyError(400, f"request body: invalid JSON: {error}") from None
        if not isinstance(value, dict):
            raise _BodyError(400, f"request body: expected a JSON object, got {type(value).__name__}")
        return value

    def with_body(action: Callable[[dict[str, Any]], Any]) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            try:
                body = await body_of(request)
            except _BodyError as error:
                return _error(error.status, error.message)
            return JSONResponse(await run_in_threadpool(action, body))

        return handler

    async def status(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(live.status))

    def set_values(body: dict[str, Any]) -> Any:
        return {"live_params": live.set(body)}

    def switch(body: dict[str, Any]) -> Any:
        return {"source": live.switch_source(_field(body, "source"))}

    def reload(body: dict[str, Any]) -> Any:
        unknown = sorted(set(body) - {"pack", "rig"})
        if unknown:
            raise ConfigError(f"reload: unknown field(s) {', '.join(unknown)}; fields: pack, rig")
        live.reload(body.get("pack"), body.get("rig"))
        return live.status()

    def save(body: dict[str, Any]) -> Any:
        return {"saved": live.save()}

    async def rotate(request: Request) -> Response:
        token = pairing.rotate()
        if on_rotate is not None:
            await run_in_threadpool(on_rotate, token)
        await broadcaster.cut_off(token)
        return JSONResponse({"token": token})

    async def live_socket(websocket: WebSocket) -> None:
        verdict = pairing.check(
            _presented_token(websocket.headers, websocket.query_params), client_of(websocket.client)
        )
        if not verdict.ok:
            await websocket.close(code=1008)  # before accept: the handshake is refused (HTTP 403)
            return
        await websocket.accept()
        await broadcaster.serve(websocket, pairing.token)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers=SECURITY_HEADERS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        producer = asyncio.create_task(broadcaster.produce())
        try:
            yield
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    routes = [
        Route("/", page),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/api/status", guarded(status)),
        Route("/api/set", guarded(with_body(set_values)), methods=["POST"]),
        Route("/api/source", guarded(with_body(switch)), methods=["POST"]),
        Route("/api/reload", guarded(with_body(reload)), methods=["POST"]),
        Route("/api/save", guarded(with_body(save)), methods=["POST"]),
        Route("/api/token/rotate", guarded(rotate), methods=["POST"]),
        WebSocketRoute("/api/live", live_socket),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.broadcaster = broadcaster
    return app


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _field(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise ConfigError(f"request body: missing field {name!r}")
    return body[name]
