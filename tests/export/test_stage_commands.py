"""The per-stage `sense export` commands, re-run on a copy of the tiny recipe's output."""

import shutil
from pathlib import Path

from typer.testing import CliRunner

from edge.cli import app
from edge.pack import load_pack, sha256_of


def test_export_quantize_and_pack_stages_rewrite_a_valid_pack(tiny_run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(tiny_run.out, out)
    pack_dir = out / "pack"
    for artifact in pack_dir.glob("*.onnx"):
        artifact.write_bytes(b"stale")
    runner = CliRunner()
    for stage, expected in (("export", "separator.onnx"), ("quantize", "separator.int8.onnx")):
        result = runner.invoke(app, ["export", stage, str(tiny_run.recipe_path), "--out", str(out)])
        assert result.exit_code == 0, result.output + repr(result.exception)
        printed = result.output.replace("\n", "")  # rich wraps long paths
        assert "wrote" in printed and expected in printed
    result = runner.invoke(app, ["export", "pack", str(tiny_run.recipe_path), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    pack = load_pack(pack_dir)  # hashes, shapes and schema all check out again
    assert (pack_dir / "separator.onnx").read_bytes() != b"stale"
    assert all(sha256_of(pack_dir / a.file) == a.sha256 for m in pack.models.values() for a in m.artifacts)
