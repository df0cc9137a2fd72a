import json
from pathlib import Path

import pytest

from edge.errors import PackError
from edge.pack import load_pack


def _edit_manifest(root: Path, edit) -> None:
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_default_pack_is_the_distilled_one_and_fits_the_budgets(default_pack) -> None:
    assert default_pack.name == "sense-default"
    separator, tagger = default_pack.separator, default_pack.tagger
    assert separator.names == ("vocals", "drums", "bass", "other")
    assert separator.n_parameters <= 1_000_000 and separator.macs_per_second <= 0.25e9
    assert separator.algorithmic_latency_ms <= 32.0
    assert tagger.n_parameters <= 500_000 and tagger.macs_per_second <= 0.03e9 and len(tagger.names) >= 20
    every = {("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32"), ("litert", "int8")}
    assert {(a.runtime, a.precision) for a in separator.artifacts} == every
    assert {(a.runtime, a.precision) for a in tagger.artifacts} == every
    for spec in (separator, tagger):
        assert default_pack.manifest["provenance"]["training"][spec.key]["status"] == "complete"
    assert sum(f.stat().st_size for f in default_pack.root.iterdir()) <= 10 * 1024 * 1024


def test_bundled_test_pack_loads_and_describes_itself(bundled_pack) -> None:
    assert bundled_pack.separator is not None and bundled_pack.tagger is not None
    assert bundled_pack.separator.names == ("vocals", "drums", "bass", "other")
    assert {(a.runtime, a.precision) for a in bundled_pack.separator.artifacts} == {
        ("onnx", "fp32"),
        ("onnx", "int8"),
        ("litert", "fp32"),
        ("litert", "int8"),
    }
    assert (bundled_pack.root / "README.md").read_text().startswith("# ")


def test_missing_artifact_is_refused_naming_pack_field_and_expectation(pack_copy: Path) -> None:
    (pack_copy / "separator.int8.onnx").unlink()
    with pytest.raises(PackError) as error:
        load_pack(pack_copy)
    message = str(error.value)
    assert str(pack_copy) in message
    assert "models.separator.artifacts[1].file" in message
    assert "separator.int8.onnx" in message and "expected an existing file" in message


def test_default_pack_has_its_masks_and_its_onset_graph_as_two_models(default_pack) -> None:
    separator, onsets = default_pack.separator, default_pack.onsets
    assert separator.every_n_hops == 1 and [o.name for o in separator.outputs] == ["masks"]
    assert onsets is not None and onsets.names == ("kick", "snare", "hat") and onsets.every_n_hops == 1
    assert [o.name for o in onsets.outputs] == ["onsets"] and list(onsets.outputs[0].shape) == [1, -1, 3]
    assert {(a.runtime, a.precision) for a in onsets.artifacts} == {
        (a.runtime, a.precision) for a in separator.artifacts
    }
    assert onsets.states and all(a.frames_per_step in (None, 1) for a in separator.artifacts)


def test_a_separator_every_few_hops_must_take_one_or_any_number_of_frames(pack_copy: Path) -> None:
    def edit(manifest):
        manifest["models"]["separator"]["every_n_hops"] = 2
        manifest["models"]["separator"]["artifacts"][2]["frames_per_step"] = 4

    _edit_manifest(pack_copy, edit)
    with pytest.raises(PackError) as error:
        load_pack(pack_copy, verify_hashes=False)
    message = str(error.value)
    assert "models.separator.artifacts[2].frames_per_step: is 4 with every_n_hops = 2" in message
    assert "expected null or 1" in message


def test_a_separator_with_its_own_onset_output_is_refused_naming_the_new_format(pack_copy: Path) -> None:
    """The format of sense-default 1.3.0-1.5.0 (onsets as the separator's second output) is named, with what to do."""
    _edit_manifest(pack_copy, lambda m: m["models"]["separator"].update(onset_classes=["kick", "snare", "hat"]))
    with pytest.raises(PackError) as error:
        load_pack(pack_copy, verify_hashes=False)
    message = str(error.value)
    assert "models.separator.onset_classes" in message and "1.3.0-1.5.0" in message
    assert "role 'onsets'" in message and "re-export" in message


def test_an_onset_model_must_have_one_column_per_class(pack_copy: Path) -> None:
    def edit(manifest):
        onsets = json.loads(json.dumps(manifest["models"]["separator"]))
        onsets.update(role="onsets", classes=["kick", "snare"])
        onsets["outputs"] = [{"name": "onsets", "shape": [1, -1, 3], "dtype": "float32"}]
        del onsets["stems"]
        manifest["models"]["onsets"] = onsets

    _edit_manifest(pack_copy, edit)
    with pytest.raises(PackError, match=r"models.onsets.outputs\[0\].shape: is \[1, -1, 3\] \(expected \[1, -1, 2\]"):
        load_pack(pack_copy, verify_hashes=False)


def test_wrong_sha256_is_refused_with_both_hashes(pack_copy: Path) -> None:
    manifest = json.loads((pack_copy / "manifest.json").read_text())
    expected_sha = manifest["models"]["tagger"]["artifacts"][0]["sha256"]
    with open(pack_copy / "tagger.onnx", "ab") as stream:
        stream.write(b"\0")
    with pytest.raises(PackError) as error:
        load_pack(pack_copy)
    message = str(error.value)
    assert str(pack_copy) in message and "models.tagger.artifacts[0].sha256" in message
    assert f"expected {expected_sha}" in message


def test_unknown_schema_version_is_refused(pack_copy: Path) -> None:
    _edit_manifest(pack_copy, lambda m: m.update(schema_version=99))
    with pytest.raises(PackError, match=r"schema_version: is 99 \(expected 1"):
        load_pack(pack_copy)


def test_shape_mismatch_is_refused(pack_copy: Path) -> None:
    def edit(manifest):
        manifest["models"]["separator"]["outputs"][0]["shape"] = [1, -1, 3, 257]

    _edit_manifest(pack_copy, edit)
    with pytest.raises(PackError) as error:
        load_pack(pack_copy)
    message = str(error.value)
    assert "models.separator.outputs[0].shape" in message and "[1, -1, 4, 257]" in message


def test_input_bins_must_match_n_fft(pack_copy: Path) -> None:
    _edit_manifest(pack_copy, lambda m: m["models"]["tagger"].update(n_fft=1024))
    with pytest.raises(PackError, match=r"models.tagger.inputs\[0\].shape.*n_fft // 2 \+ 1 = 513"):
        load_pack(pack_copy)


def test_missing_field_and_bad_json_are_named(pack_copy: Path) -> None:
    _edit_manifest(pack_copy, lambda m: m["models"]["separator"].pop("hop"))
    with pytest.raises(PackError, match=r"models.separator.hop: missing"):
        load_pack(pack_copy)
    (pack_copy / "manifest.json").write_text("{ not json")
    with pytest.raises(PackError, match=r"manifest.json: is not valid JSON \(line 1"):
        load_pack(pack_copy)


def test_zip_pack_loads(pack_copy: Path, tmp_path: Path) -> None:
    import shutil

    archive = shutil.make_archive(str(tmp_path / "packed"), "zip", pack_copy)
    pack = load_pack(archive)
    assert pack.name == load_pack(pack_copy).name
    assert pack.artifact_path(pack.separator.artifacts[0]).is_file()


def test_nonexistent_pack_path() -> None:
    with pytest.raises(PackError, match="does not exist"):
        load_pack("/nonexistent/pack")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: m["models"]["tagger"].update(every_n_hops=0),
            r"models.tagger.every_n_hops: is 0 \(expected an integer in \[1, inf\]\)",
        ),
        (
            lambda m: m["models"]["separator"].update(n_fft="512"),
            r"models.separator.n_fft: is '512' \(expected an integer",
        ),
        (
            lambda m: m["models"]["separator"]["inputs"].__setitem__(0, 7),
            r"models.separator.inputs\[0\]: is 7 \(expected an object\)",
        ),
        (
            lambda m: m["models"]["separator"].update(stems=[]),
            r"models.separator.stems: is \[\] \(expected a non-empty list of strings\)",
        ),
    ],
)
def test_wrong_field_types_are_refused_naming_the_field_and_expectation(pack_copy: Path, edit, message: str) -> None:
    _edit_manifest(pack_copy, edit)
    with pytest.raises(PackError, match=message):
        load_pack(pack_copy)
