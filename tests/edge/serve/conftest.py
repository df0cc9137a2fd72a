"""A real ``sense serve`` on 127.0.0.1 (any free port) in this process: the pipeline in a background thread, a
simulated rig whose outputs the tests hold, the bundled test pack, the example sound looping at real-time pace."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.outputs import RoutedOutput, open_output
from edge.pack import TEST_PACK_NAME, bundled_pack_path
from edge.rig import DEFAULT_RIG
from edge.run import SessionOptions
from edge.serve.server import Server, open_server
from edge.session import SessionParams

EVENT_TIMEOUT_S = 30.0
"""Generous: the machine running the tests may be busy; no test asserts how fast anything is."""


@dataclass
class Served:
    server: Server
    sim: RoutedOutput
    thread: threading.Thread
    rig_path: Path | None

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def token(self) -> str:
        return self.server.pairing.token

    def call(
        self,
        path: str,
        body: Any = None,
        token: str | None = "default",
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer) of one API call; ``token=None`` sends none."""
        headers = {"Content-Type": "application/json"}
        key = self.token if token == "default" else token
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(
            self.url + path, data=data, headers=headers, method="GET" if data is None else "POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=EVENT_TIMEOUT_S) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def recent_frames(self, n_frames: int) -> np.ndarray:
        return self.sim.output.history()[-n_frames:]

    def hops(self) -> int:
        return self.server.live.session.telemetry.n_hops

    def wait_hops(self, n_hops: int) -> None:
        """Wait until the pipeline has rendered ``n_hops`` more hops (generous timeout)."""
        import time

        target = self.hops() + n_hops
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while self.hops() < target:
            assert time.monotonic() < deadline, f"the pipeline did not render {n_hops} hops in {EVENT_TIMEOUT_S} s"
            time.sleep(0.02)


PARAM_NAMES = {field.name for field in fields(SessionParams)}
"""Keywords of :func:`start_served` that go to the session's parameters, not its options."""


def start_served(tmp_path: Path, copy_rig: bool = True, **options: Any) -> Served:
    rig_path = None
    if copy_rig:
        rig_path = tmp_path / "rig.toml"
        shutil.copy(DEFAULT_RIG, rig_path)
    sim = RoutedOutput(open_output("sim://", 16), np.arange(16))
    options.setdefault("pack_path", str(bundled_pack_path(TEST_PACK_NAME)))
    params = SessionParams(**{name: options.pop(name) for name in PARAM_NAMES if name in options})
    server = open_server(
        None,
        SessionOptions(rig_path=str(rig_path) if rig_path else None, output=[sim], params=params, **options),
        host="127.0.0.1",
        port=0,
        loop=True,
        write_state=False,
    )
    thread = threading.Thread(target=server.run, name="pipeline", daemon=True)
    thread.start()
    return Served(server, sim, thread, rig_path)


def stop_served(served: Served) -> None:
    served.server.stop()
    served.thread.join(EVENT_TIMEOUT_S)
    assert not served.thread.is_alive(), "the pipeline did not stop"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    running = start_served(tmp_path)
    try:
        yield running
    finally:
        stop_served(running)
