"""GPIO pins through gpiozero, with the pin factory (backend) passed in or resolved once.

We never set gpiozero's class-level ``Device.pin_factory`` (STYLE.md #1): every device gets ``pin_factory=``
explicitly. :func:`resolve_pin_factory` returns the explicit factory, else one factory per backend name made
once and shared (so pin reservations span every output in the process). The name comes from
``$SENSE_GPIO_BACKEND``, else ``$GPIOZERO_PIN_FACTORY``, else ``lgpio`` on a Raspberry Pi 5 (its RP1 chip is
only reachable through lgpio / gpiochip), else the first of lgpio, rpigpio, pigpio, native that loads.
For tests: ``SENSE_GPIO_BACKEND=mock`` with ``GPIOZERO_MOCK_PIN_CLASS=mockpwmpin``.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from edge._lazy import require
from edge.errors import ConfigError, OutputError

ENV_GPIO_BACKEND = "SENSE_GPIO_BACKEND"
ENV_GPIOZERO_FACTORY = "GPIOZERO_PIN_FACTORY"
PREFERRED_BACKENDS = ("lgpio", "rpigpio", "pigpio", "native")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")

_FACTORIES: dict[str, Any] = {}
_FACTORIES_LOCK = threading.Lock()


def board_model(model_path: Path = DEVICE_TREE_MODEL) -> str | None:
    """The board's model string from the device tree (e.g. 'Raspberry Pi 5 Model B Rev 1.0'), or None."""
    try:
        return model_path.read_bytes().rstrip(b"\x00").decode("utf-8", "replace").strip() or None
    except OSError:
        return None


def is_raspberry_pi_5(model_path: Path = DEVICE_TREE_MODEL) -> bool:
    model = board_model(model_path) or ""
    return model.startswith("Raspberry Pi 5") or model.startswith("Raspberry Pi Compute Module 5")


def backend_name(model_path: Path = DEVICE_TREE_MODEL) -> str | None:
    """The pin factory name to use, or None to try :data:`PREFERRED_BACKENDS` in order."""
    for variable in (ENV_GPIO_BACKEND, ENV_GPIOZERO_FACTORY):
        name = os.environ.get(variable, "").strip().lower()
        if name:
            return name
    return "lgpio" if is_raspberry_pi_5(model_path) else None


def lgpio_fix() -> str:
    """How to get a working lgpio here: pip wheels exist up to Python 3.12; on 3.13 pip only has an empty
    placeholder, and Raspberry Pi OS's python3-lgpio is visible in a venv only with system site packages."""
    in_venv = sys.prefix != sys.base_prefix
    apt = "'sudo apt install python3-lgpio' (Raspberry Pi OS)"
    if in_venv:
        apt += (
            f", and let this venv see it: set 'include-system-site-packages = true' in {Path(sys.prefix) / 'pyvenv.cfg'} "
            "(or create it with 'python3 -m venv --system-site-packages')"
        )
    major, minor = sys.version_info[:2]
    if (major, minor) < (3, 13):
        return f"'pip install lgpio' (aarch64 wheels for Python {major}.{minor}), or {apt}"
    return apt + "; on a Pi 4 or older, SENSE_GPIO_BACKEND=native works without lgpio"


def import_lgpio() -> ModuleType:
    """Import lgpio without leaving its notification FIFO (``.lgd-nfy0``) in the current directory.

    lgpio creates that FIFO in its working directory (``$LG_WD``, else the current directory) when it is imported,
    and fails with FileNotFoundError where that is not writable (``/`` under systemd). We import it with a private
    temporary directory as both, removed at exit, and restore the current directory. Raises :class:`OutputError`
    with :func:`lgpio_fix` when lgpio is missing, fails to start, or is pip's empty placeholder (Python 3.13)."""
    module = sys.modules.get("lgpio")
    if module is None:
        if importlib.util.find_spec("lgpio") is None:
            raise OutputError(f"lgpio is not installed. Fix: {lgpio_fix()}")
        workdir = tempfile.mkdtemp(prefix="sense-lgpio-")
        atexit.register(shutil.rmtree, workdir, True)
        os.environ.setdefault("LG_WD", workdir)
        previous = os.getcwd()
        try:
            os.chdir(workdir)
            module = importlib.import_module("lgpio")
        except Exception as error:  # FileNotFoundError, OSError from its C library, ImportError of its extension
            sys.modules.pop("lgpio", None)
            raise OutputError(f"lgpio cannot start ({type(error).__name__}: {error}). Fix: {lgpio_fix()}") from error
        finally:
            os.chdir(previous)
    if not hasattr(module, "gpiochip_open"):
        raise OutputError(
            "lgpio is pip's empty placeholder package (0.0.0.2, what pip installs on Python 3.13), "
            f"not the library. Fix: 'pip uninstall lgpio', then {lgpio_fix()}"
        )
    return module


def make_pin_factory(name: str) -> Any:
    """Construct gpiozero's pin factory ``name`` (an entry point of group ``gpiozero_pin_factories``)."""
    require("gpiozero", "gpio", "GPIO outputs")
    factories = {entry.name: entry for entry in entry_points(group="gpiozero_pin_factories")}
    if name not in factories:
        raise ConfigError(f"GPIO backend {name!r} is unknown; gpiozero offers: {', '.join(sorted(factories))}")
    if name == "lgpio":
        import_lgpio()  # before gpiozero imports it: no FIFO in the current directory, a fix that fits this Python
    try:
        return factories[name].load()()
    except Exception as error:  # gpiozero raises many kinds here (ImportError, OSError, PinUnknownPi, ...)
        fix = {
            "lgpio": lgpio_fix(),
            "rpigpio": "install RPi.GPIO: 'pip install RPi.GPIO' (not on a Pi 5: use lgpio)",
            "pigpio": "start the daemon: 'sudo systemctl enable --now pigpiod'",
        }.get(name, "check that this is a Raspberry Pi and that /dev/gpiochip* is readable (group gpio)")
        raise OutputError(f"GPIO backend {name!r} cannot start: {error}. Fix: {fix}") from error


def resolve_pin_factory(factory: Any = None) -> Any:
    """``factory`` if given, else the shared factory for :func:`backend_name` (made on first use)."""
    if factory is not None:
        return factory
    name = backend_name()
    with _FACTORIES_LOCK:
        if name is not None:
            if name not in _FACTORIES:
                _FACTORIES[name] = make_pin_factory(name)
            return _FACTORIES[name]
        for candidate in PREFERRED_BACKENDS:
            if candidate in _FACTORIES:
                return _FACTORIES[candidate]
        errors = []
        for candidate in PREFERRED_BACKENDS:
            try:
                _FACTORIES[candidate] = make_pin_factory(candidate)
                return _FACTORIES[candidate]
            except OutputError as error:
                errors.append(str(error))
        raise OutputError("no GPIO backend could start:\n  " + "\n  ".join(errors))
