"""The tflite_runtime fallback as it breaks on a board: installed, but built for NumPy 1.x, so it cannot load under
NumPy 2. The far side is a stand-in ``tflite_runtime`` package that fails the way the real wheel does; LiteRT
(ai_edge_litert) is hidden as on a board without it. Resolver, runner, ``sense run`` and ``sense doctor`` must say
what is wrong and how to fix it - and doctor must not call it ready."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.devices import Status, runtime_findings
from edge.errors import RuntimeUnavailableError
from edge.pack import TEST_PACK_NAME, bundled_pack_path, load_pack
from edge.runners import Runtime, importable_runtimes, resolve_runtime
from edge.runners.litert_runner import interpreter_class

BUILT_FOR_NUMPY_1 = """
import sys
sys.stderr.write("A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x as it may crash.\\n")
raise ImportError("numpy.core.multiarray failed to import")
"""
FAILS_WHEN_USED = """
import sys
class Interpreter:  # the real wheel imports under NumPy 2 and fails when the interpreter is made
    def __init__(self, model_path, num_threads=1):
        sys.stderr.write("A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x as it may crash.\\n")
        raise ImportError("numpy.core.multiarray failed to import")
"""
runner = CliRunner()


def _stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interpreter_source: str) -> None:
    package = tmp_path / "site" / "tflite_runtime"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = '2.14.0'\n")
    (package / "interpreter.py").write_text(interpreter_source)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # not installed
    importlib.invalidate_caches()


def _forget_tflite_runtime() -> None:
    for name in [name for name in sys.modules if name.startswith("tflite_runtime")]:
        del sys.modules[name]


@pytest.fixture
def broken_tflite_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails at import (as an extension built for another NumPy can)."""
    _stand_in(tmp_path, monkeypatch, BUILT_FOR_NUMPY_1)
    yield
    _forget_tflite_runtime()


@pytest.fixture
def tflite_runtime_failing_when_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Imports, then fails when the interpreter is made (what tflite-runtime 2.14 does under NumPy 2, seen in
    scripts/pi_check.sh on Bookworm)."""
    _stand_in(tmp_path, monkeypatch, FAILS_WHEN_USED)
    yield
    _forget_tflite_runtime()


def test_the_interpreter_is_loaded_for_real_and_the_error_says_why_and_what_to_do(broken_tflite_runtime: None) -> None:
    with pytest.raises(RuntimeUnavailableError) as caught:
        interpreter_class()
    message = str(caught.value)
    assert (
        "tflite_runtime is installed but cannot load (ImportError: numpy.core.multiarray failed to import)" in message
    )
    assert "pip install 'sense-edge[litert]'" in message
    import numpy as np

    assert ("built for NumPy 1.x" in message) == (int(np.__version__.split(".")[0]) >= 2)


def test_the_resolver_skips_it_and_names_it_when_asked_for(broken_tflite_runtime: None) -> None:
    assert Runtime.LITERT not in importable_runtimes()
    separator = load_pack(bundled_pack_path(TEST_PACK_NAME)).separator
    assert separator is not None
    assert resolve_runtime(separator, None, "fp32")[0] is Runtime.ONNX
    with pytest.raises(RuntimeUnavailableError, match="tflite_runtime is installed but cannot load"):
        resolve_runtime(separator, "litert", "fp32")


def test_sense_run_gives_one_line_not_a_traceback(broken_tflite_runtime: None) -> None:
    result = runner.invoke(app, ["run", "--pack", str(bundled_pack_path(TEST_PACK_NAME)), "--runtime", "litert"])
    assert result.exit_code != 0
    assert isinstance(result.exception, RuntimeUnavailableError)
    assert "pip install 'sense-edge[litert]'" in str(result.exception)


def test_doctor_fails_it_instead_of_calling_it_ready(broken_tflite_runtime: None) -> None:
    findings = {finding.name: finding for finding in runtime_findings()}
    assert (
        findings["onnxruntime"].status is Status.OK and "ran one hop of sense-default" in findings["onnxruntime"].detail
    )
    fallback = findings["tflite_runtime"]
    assert fallback.status is Status.FAIL and "cannot run a model" in fallback.detail
    assert "ai-edge-litert" in fallback.fix and "pip uninstall tflite-runtime" in fallback.fix
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1 and "FAIL runtime/tflite_runtime" in result.output and "not ready" in result.output


def test_a_runtime_that_fails_only_when_used_still_gives_one_line(
    tflite_runtime_failing_when_used: None, capfd: pytest.CaptureFixture[str]
) -> None:
    result = runner.invoke(app, ["run", "--pack", str(bundled_pack_path(TEST_PACK_NAME)), "--runtime", "litert"])
    assert isinstance(result.exception, RuntimeUnavailableError)
    message = str(result.exception)
    assert (
        "tflite_runtime is installed but cannot load (ImportError: numpy.core.multiarray failed to import)" in message
    )
    assert "pip install 'sense-edge[litert]'" in message and "compiled using NumPy 1.x" not in capfd.readouterr().err
    fallback = {finding.name: finding for finding in runtime_findings()}["tflite_runtime"]
    assert fallback.status is Status.FAIL and "ai-edge-litert" in fallback.fix
