"""Pack check at load: every artifact the runtime opens is checked against the manifest's input, output and state
names, shapes and dtypes before any output opens; `sense pack inspect` opens and checks every artifact."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from edge.errors import PackError
from edge.pack import TEST_PACK_NAME, bundled_pack_path, load_pack, sha256_of
from edge.runners import check_artifacts
from edge.session import open_session


def altered_pack(tmp_path: Path, change: Callable[[Path, dict[str, Any]], None]) -> Path:
    """A copy of the test pack with ``change(root, manifest)`` applied and every sha256 made to match again."""
    root = tmp_path / "pack"
    shutil.copytree(bundled_pack_path(TEST_PACK_NAME), root)
    manifest = json.loads((root / "manifest.json").read_text())
    change(root, manifest)
    for model in manifest["models"].values():
        for artifact in model["artifacts"]:
            artifact["sha256"] = sha256_of(root / artifact["file"])
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def swap_separator_for_tagger(root: Path, manifest: dict[str, Any]) -> None:
    shutil.copyfile(root / "tagger.onnx", root / "separator.onnx")


def wrong_state_shape(root: Path, manifest: dict[str, Any]) -> None:
    state = manifest["models"]["separator"]["states"][0]
    state["shape"] = [*state["shape"][:-1], state["shape"][-1] + 1]


def test_the_bundled_packs_pass_the_check() -> None:
    for name in (TEST_PACK_NAME, None):
        results = check_artifacts(load_pack(bundled_pack_path(name) if name else None))
        assert results and all(problem is None for _, problem in results), results


@pytest.mark.parametrize(
    ("change", "field", "detail"),
    [
        (swap_separator_for_tagger, "models.separator.states[0].input", "separator.onnx has inputs ['magnitude']"),
        (wrong_state_shape, "models.separator.states[0].input.shape", "separator.onnx's input 'state_in_0' is"),
    ],
)
def test_a_pack_that_cannot_run_is_refused_at_load(tmp_path: Path, change: Callable, field: str, detail: str) -> None:
    pack = load_pack(altered_pack(tmp_path, change))  # the hashes match: only opening the artifact can tell
    with pytest.raises(PackError) as caught:
        open_session(pack, output="sim://", runtime="onnx")
    assert caught.value.field == field and detail in str(caught.value)


@pytest.mark.parametrize("command", ["run", "inspect"])
def test_the_cli_names_the_field_and_opens_no_output(tmp_path: Path, command: str) -> None:
    pack = altered_pack(tmp_path, wrong_state_shape)
    log = tmp_path / "frames.log"
    args = (
        ["run", "--pack", str(pack), "--runtime", "onnx", "--output", f"spy://loop://?log={log}"]
        if command == "run"
        else ["pack", "inspect", str(pack)]
    )
    done = subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "models.separator.states[0].input.shape" in lines[0], done.stderr
    assert not log.exists()  # the output was never opened
