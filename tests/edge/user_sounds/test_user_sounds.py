"""User sounds: tagger embeddings, the calibrated prototype classifier, the overlay store and the CLI, on
synthetic event recordings (export.data.sound_events, numpy only) with the bundled pack."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import AudioInputError, ConfigError, InferenceError, MissingExtraError
from edge.pack import load_pack
from edge.run import EXAMPLE_SOUND
from edge.user_sounds.classifier import calibrate
from edge.user_sounds.embedding import Embedder, derive_embedding_model, penultimate_tensor
from edge.user_sounds.onnx_graph import read_graph
from edge.user_sounds.store import SoundStore
from export.data.sound_events import synthesize_event
from edge.stream import DEVICE_STREAM

RATE_HZ = DEVICE_STREAM.sample_rate_hz
runner = CliRunner()


def _takes(kind: str, folder: Path, seeds: range) -> list[Path]:
    paths = []
    for seed in seeds:
        path = folder / f"{kind}-{seed}.wav"
        soundfile.write(path, 0.8 * synthesize_event(kind, np.random.default_rng(seed), 1.5), RATE_HZ)
        paths.append(path)
    return paths


def _in_silence(audio: np.ndarray, before_s: float = 1.0) -> np.ndarray:
    return np.concatenate([np.zeros(int(before_s * RATE_HZ), np.float32), audio, np.zeros(RATE_HZ, np.float32)])


@pytest.fixture(scope="module")
def pack():
    return load_pack(None)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory, pack) -> SoundStore:
    folder = tmp_path_factory.mktemp("user-sounds")
    store = SoundStore(pack, folder / "overlay")
    store.learn("phone", _takes("telephone", folder, range(100, 105)), pattern="alarm", priority=11)
    return store


def test_the_embedding_is_the_input_of_the_taggers_last_linear_layer(tmp_path: Path, pack) -> None:
    artifact = pack.tagger.artifact("onnx", "fp32")
    graph = read_graph(pack.artifact_path(artifact))
    hidden = penultimate_tensor(graph, pack.tagger.outputs[0].name)
    last_linear = next(node for node in graph.node if node.input and node.input[0] == hidden)
    assert last_linear.op_type in ("Gemm", "MatMul")
    weight = graph.initializer_dims[last_linear.input[1]]
    embedder = Embedder(pack, tmp_path)
    assert embedder.source == "penultimate" and embedder.key.endswith(artifact.sha256)
    assert [p.name for p in tmp_path.iterdir()] == [f"embedding-{artifact.sha256[:16]}.onnx"]  # no partial copy left
    steps = embedder.embed(synthesize_event("siren", np.random.default_rng(0), 2.0))
    assert steps.shape == (
        2 * RATE_HZ // DEVICE_STREAM.hop // pack.tagger.every_n_hops,
        weight[1] if last_linear.op_type == "Gemm" else weight[0],
    )
    assert np.allclose(np.linalg.norm(steps, axis=1), 1.0, atol=1e-5)


def test_a_tagger_file_that_is_not_onnx_or_has_no_linear_head_is_refused_naming_it(tmp_path: Path, pack) -> None:
    source = pack.artifact_path(pack.tagger.artifact("onnx", "fp32"))
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(source.read_bytes()[:1000])
    with pytest.raises(InferenceError, match="truncated.onnx: not an ONNX model"):
        derive_embedding_model(truncated, tmp_path / "out.onnx", "probabilities")
    with pytest.raises(
        InferenceError, match=f"{source.name}: tagger graph: no linear layer found on the way to 'nothing'"
    ):
        derive_embedding_model(source, tmp_path / "out.onnx", "nothing")
    assert not (tmp_path / "out.onnx").exists()


def test_without_onnxruntime_learning_is_refused_naming_the_extra(
    tmp_path: Path, pack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # a device with LiteRT only
    with pytest.raises(MissingExtraError, match=r"onnxruntime.*sense-edge\[sounds\]"):
        Embedder(pack, tmp_path)


def test_calibration_puts_the_threshold_between_recordings_and_negatives() -> None:
    rng = np.random.default_rng(0)
    direction = np.eye(8)[0]

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    recordings = [[unit(direction + 0.1 * rng.standard_normal((6, 8)))] for _ in range(4)]
    negatives = unit(rng.standard_normal((200, 8)) * np.array([0.0] + [1.0] * 7))  # orthogonal to the sound
    classifier, calibration = calibrate(recordings, negatives)
    assert calibration.max_negative_score < classifier.threshold < min(calibration.clip_scores)
    assert calibration.loo_recall == 1.0 and classifier.detects(unit(direction[None])).all()
    overlapping = np.concatenate([negatives, direction[None]])  # a negative step sounds exactly like it
    classifier, calibration = calibrate(recordings, overlapping)
    assert classifier.threshold > calibration.max_negative_score and calibration.loo_recall < 1.0


def test_a_learned_sound_is_heard_within_a_second_in_a_new_take_and_not_in_others(learned: SoundStore) -> None:
    held_out = synthesize_event("telephone", np.random.default_rng(999), 2.0)
    times_s = learned.detections_s("phone", _in_silence(held_out))
    assert len(times_s) and 1.0 < times_s[0] <= 2.0  # the ring starts at 1.0 s
    over_music = _in_silence(held_out)
    music, _ = soundfile.read(EXAMPLE_SOUND, dtype="float32")
    over_music[: len(music)] += 0.1 * music[: len(over_music)]  # music about 12 dB below the ring
    assert len(learned.detections_s("phone", over_music))
    for other in ("knock", "siren", "doorbell"):
        assert (
            len(learned.detections_s("phone", _in_silence(synthesize_event(other, np.random.default_rng(5), 2.0)))) == 0
        )


def test_the_overlay_keeps_recordings_and_relearns_for_a_new_tagger(learned: SoundStore, pack) -> None:
    document = json.loads(learned.index.read_text())
    entry = document["sounds"][0]
    assert entry["name"] == "phone" and entry["pattern"] == "alarm" and entry["priority"] == 11
    assert all((learned.dir / clip).exists() for clip in entry["clips"]) and len(entry["clips"]) == 5
    entry["embedding_key"], entry["prototypes"] = "a retrained tagger", [[0.0] * len(entry["prototypes"][0])]
    learned.index.write_text(json.dumps(document))
    reopened = SoundStore(pack, learned.dir.parent)
    sound = reopened.current("phone")
    assert (
        sound.embedding_key == reopened.embedder.key and len(sound.prototypes) == 5 * 2 * 3
    )  # 3 per take; takes: as recorded, in a room
    assert json.loads(reopened.index.read_text())["sounds"][0]["embedding_key"] == reopened.embedder.key


def test_bad_requests_say_what_to_do(tmp_path: Path, pack) -> None:
    store = SoundStore(pack, tmp_path / "overlay")
    takes = _takes("knock", tmp_path, range(3))
    with pytest.raises(ConfigError, match="sound name 'Front Door'"):
        store.learn("Front Door", takes)
    with pytest.raises(ConfigError, match="2 recordings; give 3 to 10"):
        store.learn("door", takes[:2])
    with pytest.raises(ConfigError, match="pattern 'wiggle' is not one of"):
        store.learn("door", takes, pattern="wiggle")
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(RATE_HZ, np.float32), RATE_HZ)
    with pytest.raises(AudioInputError, match="silent.wav: silent"):
        store.learn("door", takes[:2] + [silent])
    with pytest.raises(ConfigError, match="no user sound 'kettle' for pack"):
        store.remove("kettle")


def test_the_cli_learns_lists_tests_and_removes(tmp_path: Path) -> None:
    overlay = ["--sounds-dir", str(tmp_path / "overlay")]
    takes = [str(p) for p in _takes("alarm", tmp_path, range(10, 14))]
    result = runner.invoke(app, ["learn", "smoke-alarm", *takes, "--pattern", "siren", *overlay])
    assert result.exit_code == 0, result.output
    assert "learned 'smoke-alarm' from 4 recordings" in result.output and "caught 100%" in result.output
    listed = json.loads(runner.invoke(app, ["sounds", "list", "--json", *overlay]).output)
    assert [s["name"] for s in listed["sounds"]] == ["smoke-alarm"] and listed["sounds"][0]["pattern"] == "siren"
    probe = tmp_path / "probe.wav"
    soundfile.write(probe, _in_silence(synthesize_event("alarm", np.random.default_rng(77), 2.0)), RATE_HZ)
    tested = json.loads(runner.invoke(app, ["sounds", "test", "smoke-alarm", str(probe), "--json", *overlay]).output)
    assert tested["detections_s"] and tested["detections_s"][0] <= 2.0
    assert runner.invoke(app, ["sounds", "remove", "smoke-alarm", *overlay]).exit_code == 0
    assert json.loads(runner.invoke(app, ["sounds", "list", "--json", *overlay]).output)["sounds"] == []
