"""``sense serve``: the pipeline of ``sense run`` plus the control page, in one process.

The pipeline runs in the calling thread (the main one from the CLI) exactly as ``sense run`` runs it — same
session, same failsafe, SIGINT/SIGTERM stop it — while uvicorn serves :func:`edge.serve.app.make_app` from a
second thread. When the pipeline stops for any reason the web server is shut down, and every output was already
zeroed by the session. The pairing URL (and a QR code of it when the ``qrcode`` module is installed) is printed,
and the URL and token are written to a state file readable only by this user, for ``sense status`` / ``sense set``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from edge._lazy import require
from edge.errors import ConfigError
from edge.live import LiveRun
from edge.rig_save import write_atomically
from edge.run import RunResult, SessionOptions, open_run_session
from edge.serve.pairing import Pairing

LOCALHOST = "127.0.0.1"
DEFAULT_PORT = 8765
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 5.0


def state_file() -> Path:
    """Where a running ``sense serve`` leaves its URL and token: ``$SENSE_SERVE_STATE``, else
    ``$XDG_STATE_HOME/sense/serve.json`` (``~/.local/state/sense/serve.json``)."""
    if os.environ.get("SENSE_SERVE_STATE"):
        return Path(os.environ["SENSE_SERVE_STATE"])
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "sense" / "serve.json"


def lan_address() -> str:
    """This machine's address on its local network (no packet is sent), for the URL a phone opens."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return socket.gethostname()


def print_qr(url: str, out: TextIO) -> bool:
    """The URL as a QR code in the terminal, when the optional ``qrcode`` module is installed."""
    try:
        import qrcode
    except ImportError:
        return False
    code = qrcode.QRCode(border=1)
    code.add_data(url)
    code.print_ascii(out=out, invert=True)
    return True


class Server:
    """A session, its :class:`LiveRun` and the web server around it. :meth:`start` binds and serves; :meth:`run`
    feeds the pipeline in the calling thread until :meth:`stop` or a signal; then the web server shuts down."""

    def __init__(
        self,
        live: LiveRun,
        host: str = LOCALHOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        write_state: bool = True,
    ) -> None:
        self.live = live
        self.host = host
        self.pairing = Pairing(token)
        self.write_state = write_state
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as error:
            self._socket.close()
            raise ConfigError(f"--host {host} --port {port}: cannot listen there: {error.strerror or error}") from None
        self.port = int(self._socket.getsockname()[1])
        self._uvicorn: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL for this machine (``sense status``)."""
        host = LOCALHOST if self.host in ("0.0.0.0", "", LOCALHOST) else self.host
        return f"http://{host}:{self.port}"

    @property
    def pairing_url(self) -> str:
        """The URL to open on the phone: the page, with the token in the fragment (never sent in a request)."""
        host = lan_address() if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/#token={self.pairing.token}"

    def _save_state(self, token: str) -> None:
        if not self.write_state:
            return
        path = state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(
            path, json.dumps({"url": self.base_url, "token": token, "pid": os.getpid()}) + "\n", mode=0o600
        )

    def start(self) -> None:
        """Serve from a background thread; returns when the server accepts connections."""
        uvicorn = require("uvicorn", "serve", "sense serve")
        from edge.serve.app import make_app

        app = make_app(self.live, self.pairing, on_rotate=self._save_state)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._socket]}, name="sense-serve-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"sense serve: the web server did not start on {self.base_url}")
            time.sleep(0.02)
        self._save_state(self.pairing.token)

    def run(self) -> RunResult:
        """Feed the pipeline until :meth:`stop`, SIGINT or SIGTERM; every output is zeroed (the session closes)
        and then the web server stops."""
        try:
            stopped = self.live.run()
        finally:
            self.shutdown()
        session = self.live.session
        pack = session.pack
        return RunResult(
            summary=session.telemetry.summary(),
            peak_intensities=self.live.peak,
            pack_name=f"{pack.name} {pack.version}" if pack else "none (DSP only)",
            source=self.live.snapshot()["source"]["name"],
            output_urls=session.output_urls,
            pace="realtime",
            stopped_by_signal=stopped.signum,
        )

    def stop(self) -> None:
        """Stop the pipeline (from any thread); :meth:`run` then returns."""
        self.live.stop()

    def shutdown(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT_S)
        self._socket.close()
        if self.write_state:
            state_file().unlink(missing_ok=True)


def open_server(
    input_spec: str | None = None,
    options: SessionOptions = SessionOptions(),
    host: str = LOCALHOST,
    port: int = DEFAULT_PORT,
    loop: bool = False,
    token: str | None = None,
    write_state: bool = True,
    **source_options: Any,
) -> Server:
    """A started :class:`Server` for the same session options as ``sense run`` (plus where to listen, ``loop``)."""
    require("starlette", "serve", "sense serve")
    require("uvicorn", "serve", "sense serve")
    session = open_run_session(options)
    server = None
    try:
        live = LiveRun(
            session, input_spec, loop, options.pack_path, options.rig_path, options.use_models, **source_options
        )
        server = Server(live, host, port, token, write_state)
        server.start()
    except BaseException:
        if server is not None:
            server.shutdown()  # its socket and state file
        session.close()
        raise
    return server


def announce(server: Server, out: TextIO = sys.stdout) -> None:
    """Tell the user where the page is (and show the QR code of it)."""
    out.write(f"sense serve: open {server.pairing_url}\n")
    if server.host not in (LOCALHOST, "localhost", "::1"):
        print_qr(server.pairing_url, out)
        out.write("anyone with this URL (it carries the pairing token) controls the rig; rotate it on the page\n")
    out.write("Ctrl-C stops it (every output zeroed)\n")
    out.flush()
