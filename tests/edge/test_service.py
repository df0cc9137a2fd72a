"""``sense service``: the systemd unit a sensory box starts from (checked by systemd's own verifier), the install
into a prepared root filesystem, and the notify protocol spoken to a real datagram socket (systemd's side)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import ConfigError
from edge.service import ServiceSpec, existing_groups, unit_path, unit_text

runner = CliRunner()


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("systemd-analyze"), "systemd-analyze is installed by scripts/setup.sh (package systemd)"
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "group").write_text(
        "root:x:0:\ndialout:x:20:\naudio:x:29:\npi:x:1000:\ngpio:x:986:pi\ni2c:x:994:pi\n"
    )
    return root


def test_install_writes_a_unit_that_systemd_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fake_root(tmp_path)
    rig = tmp_path / "box rig.toml"
    rig.write_text("")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app,
        [
            "service",
            "install",
            "--root",
            str(root),
            "--user",
            "pi",
            "run",
            "mic",
            "--rig",
            "box rig.toml",
            "--output",
            "audio://default?gain=50%",
        ],
    )
    assert result.exit_code == 0, result.output
    unit = unit_path("sense", root)
    assert result.stdout.strip() == f"wrote {unit}"
    text = unit.read_text()
    lines = set(text.splitlines())
    assert {
        "Type=notify",
        "User=pi",
        "Restart=on-failure",
        "WatchdogSec=10",
        "WatchdogSignal=SIGTERM",
        "SuccessExitStatus=143",
        "StartLimitIntervalSec=0",
        "WantedBy=multi-user.target",
        "WorkingDirectory=/run/sense",
    } <= lines
    # only the device groups this image has, in a fixed order
    assert (
        "SupplementaryGroups=i2c audio dialout" not in lines and "SupplementaryGroups=gpio i2c audio dialout" in lines
    )
    # the relative rig path became absolute (the service runs in /run/sense), quoted for its space; % escaped
    assert f'--rig "{rig.resolve()}"' in text and "audio://default?gain=50%%" in text
    verified = _verify(unit)
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr


def test_the_verifier_would_catch_a_broken_unit(tmp_path: Path) -> None:
    unit = tmp_path / "sense.service"
    unit.write_text(unit_text(ServiceSpec(["run", "mic"], "pi")).replace("Type=notify", "Type=notfy"))
    assert "Failed to parse service type" in _verify(unit).stderr


def test_uninstall_removes_the_unit_and_says_when_there_is_none(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    assert (
        runner.invoke(
            app, ["service", "install", "--root", str(root), "--user", "pi", "--name", "vest", "--watchdog", "0", "run"]
        ).exit_code
        == 0
    )
    assert "WatchdogSec=0" in unit_path("vest", root).read_text()
    result = runner.invoke(app, ["service", "uninstall", "--root", str(root), "--name", "vest"])
    assert result.exit_code == 0 and not unit_path("vest", root).exists()
    again = runner.invoke(app, ["service", "uninstall", "--root", str(root), "--name", "vest"])
    assert again.exit_code != 0 and "no 'vest' service is installed" in str(again.exception)


def test_the_box_never_runs_as_root_and_needs_a_command() -> None:
    with pytest.raises(ConfigError, match="no sense command"):
        unit_text(ServiceSpec([], "pi"))
    from edge.service import default_user

    if os.getuid() == 0 and not os.environ.get("SUDO_USER"):
        with pytest.raises(ConfigError, match="not run the box as root"):
            default_user()


def test_groups_come_from_the_image_not_from_this_machine(tmp_path: Path) -> None:
    assert existing_groups(_fake_root(tmp_path)) == ["gpio", "i2c", "audio", "dialout"]
    assert existing_groups(tmp_path / "empty") == []


def test_sense_run_speaks_the_notify_protocol_to_systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """READY=1 once the pipeline is built, WATCHDOG=1 while hops flow (at most every WATCHDOG_USEC/2), STOPPING=1."""
    path = tmp_path / "notify"
    messages: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd_side:
        systemd_side.bind(str(path))
        systemd_side.settimeout(0.5)

        def receive() -> None:  # as systemd does: read every datagram as it comes
            while not messages or messages[-1] != "STOPPING=1":
                try:
                    messages.append(systemd_side.recv(4096).decode())
                except TimeoutError:
                    return

        receiver = threading.Thread(target=receive)
        receiver.start()
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "20000")  # ping at most every 10 ms of wall time
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        result = runner.invoke(app, ["run", "--no-models", "--json"])
        receiver.join()
    assert result.exit_code == 0, result.output
    assert messages[0].startswith("READY=1") and messages[-1] == "STOPPING=1"
    pings = messages[1:-1]
    n_hops = json.loads(result.stdout)["n_hops"]
    assert pings and set(pings) == {"WATCHDOG=1"} and len(pings) < n_hops


def test_no_notify_socket_means_no_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge.sdnotify import SystemdNotifier

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert SystemdNotifier.from_environment().send("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/socket")
    assert SystemdNotifier.from_environment().send("READY=1") is False
