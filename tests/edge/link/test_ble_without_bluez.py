"""Without a reachable BlueZ (no system D-Bus socket), ble:// fails with a clear error, never a traceback.

Each case runs in a fresh process: bleak keeps one BlueZ manager per event loop, so in-process tests after the
mocked-BlueZ tests would reuse that manager's bus.
"""

import os
import subprocess
import sys
from pathlib import Path


def _run_sense(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-such-socket"}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_sense_run_on_a_ble_rig_names_the_vest_and_the_missing_bus(tmp_path: Path) -> None:
    done = _run_sense(["run", "--rig", "vest-ble"], tmp_path)
    assert done.returncode == 1
    message = done.stderr.replace("\n", " ")
    assert "ble link" in message and "cannot reach BlueZ over the system D-Bus" in message
    assert "Traceback" not in done.stderr


def test_ble_scan_names_the_missing_bus(tmp_path: Path) -> None:
    done = _run_sense(["ble-scan", "--seconds", "0.5"], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot reach BlueZ over the system D-Bus" in done.stderr.replace("\n", " ")
    assert "Traceback" not in done.stderr
