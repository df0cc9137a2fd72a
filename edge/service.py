"""A sensory box or vest that starts itself: a systemd unit around ``sense run`` (or any ``sense`` command).

:func:`unit_text` writes the unit; :func:`install` / :func:`uninstall` put it in ``<root>/etc/systemd/system`` and,
when ``root`` is ``/``, tell systemd (``daemon-reload``, ``enable --now``). The unit:

- starts at boot (``multi-user.target``) after sound and Bluetooth, and runs as an ordinary user with the board's
  device groups (gpio, i2c, spi, audio, dialout, bluetooth — those that exist), never as root;
- restarts on failure for as long as the box is powered (no start limit), 2 s apart;
- uses systemd's watchdog: ``sense run`` says READY=1 once its pipeline is built and WATCHDOG=1 while hops flow
  (:mod:`edge.sdnotify`); a pipeline that stalls for ``WatchdogSec`` is stopped with SIGTERM (which zeroes every
  output on the way out) and restarted;
- logs to the journal (``journalctl -u sense``); its working directory is a private runtime directory
  (``/run/<name>``), so nothing (lgpio's FIFO, for one) lands in a user's folders.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import ConfigError, SenseError

DEFAULT_NAME = "sense"
DEVICE_GROUPS = ("gpio", "i2c", "spi", "audio", "dialout", "bluetooth")
"""Groups that open a board's device nodes: /dev/gpiochip*, /dev/i2c-*, /dev/spidev*, sound cards, serial ports."""
UNIT_DIRECTORY = Path("etc/systemd/system")
WATCHDOG_S = 10
RESTART_S = 2
STOP_TIMEOUT_S = 5


class ServiceError(SenseError, RuntimeError):
    """Installing, removing or querying the systemd service failed."""


@dataclass(frozen=True)
class ServiceSpec:
    """What the unit runs and as whom. ``command`` is the argument list after ``sense`` (e.g. ``["run", "mic"]``)."""

    command: list[str]
    user: str
    groups: list[str] = field(default_factory=list)
    name: str = DEFAULT_NAME
    python: str = sys.executable
    watchdog_s: int = WATCHDOG_S


def _quote(argument: str) -> str:
    """One ExecStart argument, quoted for systemd (its own rules: ``%`` and ``$`` are specifiers/variables)."""
    escaped = argument.replace("%", "%%").replace("$", "$$")
    if escaped and not any(character in escaped for character in " \t\"'\\;"):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_path(name: str = DEFAULT_NAME, root: Path = Path("/")) -> Path:
    return root / UNIT_DIRECTORY / f"{name}.service"


def unit_text(spec: ServiceSpec) -> str:
    """The ``.service`` file for ``spec``."""
    if not spec.command:
        raise ConfigError("service: no sense command to run (e.g. 'run mic --rig box.toml')")
    exec_start = " ".join(_quote(part) for part in [spec.python, "-m", "edge.cli", *spec.command])
    groups = f"SupplementaryGroups={' '.join(spec.groups)}\n" if spec.groups else ""
    return (
        "# Written by 'sense service install'; remove with 'sense service uninstall'.\n"
        "[Unit]\n"
        f"Description=SENSE: sound to touch (sense {' '.join(spec.command[:1])})\n"
        "After=sound.target bluetooth.target network.target\n"
        "Wants=sound.target\n"
        "StartLimitIntervalSec=0\n"
        "\n"
        "[Service]\n"
        "Type=notify\n"
        "NotifyAccess=main\n"
        f"ExecStart={exec_start}\n"
        f"User={spec.user}\n"
        f"{groups}"
        f"RuntimeDirectory={spec.name}\n"
        f"WorkingDirectory=/run/{spec.name}\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "Restart=on-failure\n"
        f"RestartSec={RESTART_S}\n"
        f"WatchdogSec={spec.watchdog_s}\n"
        "WatchdogSignal=SIGTERM\n"
        "KillSignal=SIGTERM\n"
        "SuccessExitStatus=143\n"  # `sense run` exits 143 after a clean SIGTERM stop (a watchdog stop still restarts)
        f"TimeoutStopSec={STOP_TIMEOUT_S}\n"
        "TimeoutStartSec=120\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def existing_groups(root: Path = Path("/"), wanted: tuple[str, ...] = DEVICE_GROUPS) -> list[str]:
    """The device groups that exist in ``<root>/etc/group`` (systemd refuses to start a unit naming a missing one)."""
    if root == Path("/"):
        names = {entry.gr_name for entry in grp.getgrall()}
    else:
        group_file = root / "etc" / "group"
        lines = group_file.read_text().splitlines() if group_file.exists() else []
        names = {line.split(":", 1)[0] for line in lines if line and not line.startswith("#")}
    return [group for group in wanted if group in names]


def default_user() -> str:
    """The user who ran ``sudo``, else the current user; root is refused (a box does not need it)."""
    user = os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
    if user == "root":
        raise ConfigError("service: will not run the box as root; name an ordinary user with --user")
    return user


def _systemctl(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(["systemctl", *arguments], capture_output=True, text=True)
    except FileNotFoundError:
        raise ServiceError("systemctl not found: this system does not run systemd") from None
    if check and result.returncode != 0:
        raise ServiceError(f"systemctl {' '.join(arguments)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def install(spec: ServiceSpec, root: Path = Path("/"), start: bool = True) -> Path:
    """Write the unit; on the live system (``root`` is ``/``) reload systemd and enable it (and start it now)."""
    path = unit_path(spec.name, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(unit_text(spec))
    except PermissionError:
        raise ServiceError(f"cannot write {path}: run it with sudo (the unit still runs as {spec.user})") from None
    if root == Path("/"):
        _systemctl("daemon-reload")
        _systemctl("enable", *(["--now"] if start else []), f"{spec.name}.service")
    return path


def uninstall(name: str = DEFAULT_NAME, root: Path = Path("/")) -> Path:
    """Stop and disable the unit (live system) and delete its file."""
    path = unit_path(name, root)
    if not path.exists():
        raise ServiceError(f"{path} does not exist: no '{name}' service is installed")
    if root == Path("/"):
        _systemctl("disable", "--now", f"{name}.service")
    path.unlink()
    if root == Path("/"):
        _systemctl("daemon-reload")
    return path


def status(name: str = DEFAULT_NAME) -> dict[str, str]:
    """systemd's view of the service: ActiveState, SubState, NRestarts, ExecMainStatus, UnitFileState."""
    properties = ("ActiveState", "SubState", "NRestarts", "ExecMainStatus", "UnitFileState", "ExecMainStartTimestamp")
    result = _systemctl("show", f"{name}.service", *(f"--property={p}" for p in properties))
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
