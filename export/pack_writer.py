"""Write a model pack: artifacts are hashed into ``manifest.json``, a README model card is generated, and the
result is loaded back with ``edge.pack.load_pack`` so a pack that the runtime would refuse is never written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.pack import ARTIFACT_SUFFIX, NAMES_KEY, SCHEMA_VERSION, Pack, load_pack, sha256_of

if TYPE_CHECKING:  # torch: only the writing of new artifacts needs it; rewriting a pack's metrics does not
    from export.step_model import StepSignature


def artifact_entries(key: str, signature: StepSignature, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Manifest entries of ``key``'s artifacts for (runtime, precision) ``pairs`` (hashes filled in later):
    TFLite runs one frame per step under litert-torch's tensor names, ONNX any number of frames."""
    entries = []
    for runtime, precision in pairs:
        entry: dict[str, Any] = {
            "file": key + ARTIFACT_SUFFIX[(runtime, precision)],
            "runtime": runtime,
            "precision": precision,
            "sha256": "0" * 64,
        }
        if runtime == "litert":
            from export.tflite_export import tflite_io_names

            entry.update(frames_per_step=1, io_names=tflite_io_names(signature))
        else:
            entry["frames_per_step"] = None if signature.frames_axis_dynamic else 1
        entries.append(entry)
    return entries


def hash_artifacts(root: Path, models: dict[str, dict[str, Any]]) -> None:
    """Fill in ``sha256`` of every artifact entry from the file in ``root``."""
    for model in models.values():
        for artifact in model["artifacts"]:
            artifact["sha256"] = sha256_of(root / artifact["file"])


def model_card(manifest: dict[str, Any]) -> str:
    """A README.md model card from the manifest: what each model is, its cost, metrics, provenance, licence."""
    lines = [f"# {manifest['name']} {manifest['version']}", "", manifest.get("description", ""), ""]
    for key, model in manifest["models"].items():
        names_key = NAMES_KEY[model["role"]]
        names = model[names_key]
        runs = f"; runs every {model['every_n_hops']} hops" if model.get("every_n_hops", 1) > 1 else ""
        lines += [
            f"## {key} ({model['role']})",
            "",
            f"- input: STFT magnitude, {model['sample_rate_hz']} Hz, n_fft {model['n_fft']}, hop {model['hop']}, "
            f"{model['window']} window; algorithmic latency {model['algorithmic_latency_ms']:.1f} ms",
            f"- parameters: {model['n_parameters']:,}; compute: {model['macs_per_second'] / 1e9:.4f} GMAC per second of "
            f"audio{runs}",
            f"- {names_key} ({len(names)}): {', '.join(names)}",
            "- artifacts: " + ", ".join(f"`{a['file']}` ({a['runtime']} {a['precision']})" for a in model["artifacts"]),
            "",
        ]
    lines += ["## Measured metrics", "", "| metric | value | command |", "|---|---|---|"]
    for metric in manifest.get("metrics", []):
        lines.append(f"| {metric['name']} | {metric['value']:.6g} | `{metric['command']}` |")
    provenance = manifest.get("provenance", {})
    lines += ["", "## Provenance", ""] + _bullets(provenance)
    lines += ["", "## Licence", "", manifest.get("license", "unspecified"), ""]
    return "\n".join(lines)


def _bullets(values: dict[str, Any], indent: str = "") -> list[str]:
    """Nested dicts and lists as nested Markdown bullet lists."""
    lines = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            lines += [f"{indent}- {key}:"] + _bullets(value, indent + "  ")
        elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            lines += [f"{indent}- {key}:"] + [f"{indent}  - {item}" for item in value]
        else:
            lines.append(f"{indent}- {key}: {value}")
    return lines


def write_pack(
    root: Path,
    name: str,
    version: str,
    description: str,
    models: dict[str, dict[str, Any]],
    metrics: list[dict[str, Any]],
    provenance: dict[str, Any],
    license_text: str,
) -> Pack:
    """Write ``manifest.json`` and ``README.md`` into ``root`` (artifacts must already be there) and validate."""
    hash_artifacts(root, models)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "version": version,
        "description": description,
        "models": models,
        "metrics": metrics,
        "provenance": provenance,
        "license": license_text,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (root / "README.md").write_text(model_card(manifest))
    return load_pack(root)
