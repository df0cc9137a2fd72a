"""This folder is the runtime's own test suite: a device install (runtime extras, no torch, no export stack) runs
it, and can check a pack with ``sense export verify``. Proven here with torch and the training code blocked."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from edge.pack import TEST_PACK_NAME, bundled_pack_path
from tests.workstation import WORKSTATION_ONLY

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TORCH_FREE_EXPORT = ("export.cli", "export.evaluate.pack_parity", "export.data.sound_events")
"""The torch-free part of ``export`` that a device install imports: ``sense export verify``, and the numpy-only
synthetic event sounds the user-sound tests record."""
BLOCK = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None\n"


def _python_with_blocked(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = BLOCK.format(names=WORKSTATION_ONLY) + code
    return subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_runtime_test_imports_torch_or_the_export_stack() -> None:
    offenders = {}
    for path in sorted(HERE.rglob("*.py")):
        heavy = {
            name
            for name in _imported_modules(path)
            if name.split(".")[0] in WORKSTATION_ONLY
            or (name.split(".")[0] == "export" and name not in TORCH_FREE_EXPORT)
        }
        if heavy:
            offenders[str(path.relative_to(ROOT))] = sorted(heavy)
    assert not offenders, f"runtime tests must run on a device install; they import {offenders}"


def test_the_runtime_tests_load_with_torch_blocked() -> None:
    result = _python_with_blocked(
        "import pytest\nsys.exit(pytest.main(sys.argv[1:]))\n",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        str(HERE),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " tests collected" in result.stdout or "tests collected" in result.stdout


def test_sense_export_verify_runs_on_a_device_install(tmp_path: Path) -> None:
    import shutil

    pack = tmp_path / "pack"
    shutil.copytree(bundled_pack_path(TEST_PACK_NAME), pack)
    result = _python_with_blocked(
        "sys.argv = ['sense', *sys.argv[1:]]\nfrom edge.cli import main\nmain()\n",
        "export",
        "verify",
        str(pack),
        "--no-write",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "ok separator.onnx.int8.streaming_vs_offline_max_abs_diff" in result.stdout
    assert "FAIL" not in result.stdout
