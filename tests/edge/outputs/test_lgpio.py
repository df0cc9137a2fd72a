"""lgpio, the Pi 5's GPIO library, as it fails on real boards: its import leaves a ``.lgd-nfy0`` FIFO in the current
directory (or raises FileNotFoundError where that is not writable), and on Python 3.13 pip installs an empty
placeholder. The far side here is a stand-in ``lgpio`` module that behaves like each of those."""

from __future__ import annotations

import importlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.buses.gpio import import_lgpio, lgpio_fix, make_pin_factory
from edge.devices import Status, gpio_findings
from edge.errors import OutputError
from tests.edge.outputs.test_devices import make_tree

REAL_LGPIO = """
import os
os.mkfifo(".lgd-nfy0")  # what liblgpio does in its working directory at import
def gpiochip_open(chip):
    return 0
"""
UNWRITABLE_CWD = """
raise FileNotFoundError(2, "No such file or directory", ".lgd-nfy0")
"""
PLACEHOLDER = ""  # lgpio 0.0.0.2, py3-none-any: an empty lgpio.py


@pytest.fixture
def stand_in_lgpio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path to write a stand-in lgpio.py into; lgpio is forgotten again afterwards."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    saved, saved_wd = sys.modules.pop("lgpio", None), os.environ.pop("LG_WD", None)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield site
    sys.modules.pop("lgpio", None)
    os.environ.pop("LG_WD", None)
    if saved is not None:
        sys.modules["lgpio"] = saved
    if saved_wd is not None:
        os.environ["LG_WD"] = saved_wd


def _write(site: Path, source: str) -> None:
    (site / "lgpio.py").write_text(source)
    importlib.invalidate_caches()


def test_the_fifo_lands_in_a_private_directory_not_in_the_users_folder(stand_in_lgpio: Path) -> None:
    _write(stand_in_lgpio, REAL_LGPIO)
    cwd = Path.cwd()
    module = import_lgpio()
    assert Path.cwd() == cwd and list(cwd.iterdir()) == []
    fifo = Path(os.environ["LG_WD"]) / ".lgd-nfy0"
    assert stat.S_ISFIFO(fifo.stat().st_mode) and fifo.parent.name.startswith("sense-lgpio-")
    assert import_lgpio() is module  # once per process


def test_an_import_that_raises_is_an_output_error_with_a_fix(stand_in_lgpio: Path) -> None:
    _write(stand_in_lgpio, UNWRITABLE_CWD)
    with pytest.raises(OutputError, match=r"lgpio cannot start \(FileNotFoundError: .*\.lgd-nfy0.*Fix: ") as caught:
        import_lgpio()
    assert "lgpio" not in sys.modules and "python3-lgpio" in str(caught.value)
    with pytest.raises(OutputError, match="lgpio cannot start"):
        make_pin_factory("lgpio")  # the GPIO backend resolver gives the same message, not gpiozero's traceback


def test_pips_placeholder_is_named_as_such(stand_in_lgpio: Path) -> None:
    _write(stand_in_lgpio, PLACEHOLDER)
    with pytest.raises(OutputError, match=r"empty placeholder package \(0\.0\.0\.2.*'pip uninstall lgpio'"):
        import_lgpio()


def test_the_fix_fits_this_python_and_this_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "prefix", "/home/pi/sense-venv")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    fix = lgpio_fix()
    assert "include-system-site-packages = true" in fix and "/home/pi/sense-venv/pyvenv.cfg" in fix
    monkeypatch.setattr(sys, "version_info", (3, 13, 5))
    assert "pip install lgpio" not in lgpio_fix() and "SENSE_GPIO_BACKEND=native" in lgpio_fix()
    monkeypatch.setattr(sys, "version_info", (3, 11, 2))
    assert lgpio_fix().startswith("'pip install lgpio'")
    monkeypatch.setattr(sys, "prefix", "/usr")
    assert "pyvenv.cfg" not in lgpio_fix()


def test_doctor_reports_each_failure_as_a_finding(stand_in_lgpio: Path, tmp_path: Path) -> None:
    paths = make_tree(tmp_path / "board", gpiochips=1, model="Raspberry Pi 5 Model B Rev 1.0")
    _write(stand_in_lgpio, UNWRITABLE_CWD)
    finding = gpio_findings(paths)[-1]
    assert finding.name == "lgpio" and finding.status is Status.WARN
    assert (
        finding.detail.startswith("a Pi 5 needs lgpio for GPIO: lgpio cannot start") and "python3-lgpio" in finding.fix
    )
    _write(stand_in_lgpio, REAL_LGPIO)
    finding = gpio_findings(paths)[-1]
    assert finding.status is Status.OK and list(Path.cwd().iterdir()) == []
