"""The runtime stays lean: `edge` imports and runs with torch, onnx and bleak blocked (STYLE.md #12)."""

import subprocess
import sys

BLOCKED = ["torch", "onnx", "bleak", "litert_torch", "export", "scipy", "matplotlib"]

PROGRAM = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # any import of these now raises ImportError
import edge, edge.pipeline, edge.run, edge.pack, edge.runners, edge.outputs, edge.cli
from edge.run import run
result = run(None, output_url="sim://", realtime_budget=None)
assert result.summary["n_hops"] == 1000, result.summary
leaked = sorted(n for n in {BLOCKED!r} if sys.modules.get(n) is not None)
assert not leaked, leaked
print("lean ok")
"""


def test_edge_imports_and_runs_without_torch_onnx_or_bleak() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "lean ok" in done.stdout


def test_importing_edge_loads_only_numpy_beyond_the_standard_library() -> None:
    program = (
        "import sys; before = set(sys.modules); import edge, edge.errors, edge.stream; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; print(sorted(new))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(eval(done.stdout))
    assert "edge" in loaded
    assert not loaded & {
        "torch",
        "onnxruntime",
        "onnx",
        "bleak",
        "serial",
        "smbus2",
        "gpiozero",
        "sounddevice",
        "typer",
    }


def test_the_runtime_and_sense_status_import_without_the_serve_extra() -> None:
    web = ["starlette", "uvicorn", "websockets", "qrcode", "playwright"]
    program = f"""
import sys
for name in {web!r}:
    sys.modules[name] = None
import edge.cli, edge.live, edge.serve, edge.serve.client, edge.serve.pairing, edge.controls, edge.rig_save
from edge.errors import MissingExtraError
from edge.run import SessionOptions
from edge.serve.server import open_server
try:
    open_server(None, SessionOptions(use_models=False))
except MissingExtraError as error:
    print("serve:", error)
leaked = sorted(n for n in {web!r} if sys.modules.get(n) is not None)
assert not leaked, leaked
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "serve: sense serve needs the Python module 'starlette'" in done.stdout
    assert "pip install 'sense-edge[serve]'" in done.stdout
