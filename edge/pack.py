"""Model packs: a directory or .zip holding ``manifest.json``, the model artifacts and a README model card.

The manifest is the one place that says rates, shapes, tensor and state names, hashes and metrics
(STYLE.md #11). :func:`load_pack` validates all of it and refuses a pack whose schema version, hashes or shapes
don't match, with a :class:`PackError` naming the pack, the field and the expected value.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import PackError
from edge.stream import DEVICE_STREAM
from edge.typed_config import ConfigDocument, KeyPath, TableReader, key_name

SCHEMA_VERSION = 1
ROLES = ("separator", "onsets", "tagger")
NAMES_KEY = {"separator": "stems", "onsets": "classes", "tagger": "labels"}
"""The manifest key of each role's output names."""
RUNTIMES = ("onnx", "litert")
PRECISIONS = ("fp32", "int8")
DTYPES = ("float32", "int64", "int32")
DYNAMIC = -1
"""A shape entry of -1 is the frames axis, whose size is chosen per call."""

ARTIFACT_SUFFIX = {
    ("onnx", "fp32"): ".onnx",
    ("onnx", "int8"): ".int8.onnx",
    ("litert", "fp32"): ".tflite",
    ("litert", "int8"): ".int8.tflite",
}
"""File-name endings by (runtime, precision), as DESIGN.md names them."""

BUNDLED_PACK_DIR = Path(__file__).parent / "data" / "packs"
DEFAULT_PACK_NAME = "sense-default"
TEST_PACK_NAME = "sense-test"


@dataclass(frozen=True)
class TensorSpec:
    """A named tensor: ``shape`` uses -1 for the frames axis."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class StateSpec:
    """A recurrent state carried between steps: fed as ``input``, returned as ``output``, zeros at reset."""

    input: str
    output: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class ArtifactSpec:
    """One model file for one runtime and precision.

    ``frames_per_step``: None when the artifact accepts any number of frames per call, else the fixed count.
    ``io_names``: logical tensor name -> the artifact's own name for it (TFLite signatures rename tensors).
    """

    file: str
    runtime: str
    precision: str
    sha256: str
    frames_per_step: int | None
    io_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    """One model of a pack. ``role``: 'separator' (stem masks), 'onsets' (drum-onset probabilities every hop, the
    separator's onset branch as a graph of its own) or 'tagger'."""

    key: str
    role: str
    sample_rate_hz: int
    n_fft: int
    hop: int
    window: str
    algorithmic_latency_ms: float
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    states: tuple[StateSpec, ...]
    names: tuple[str, ...]
    """Stem names (separator), drum-onset classes (onsets, e.g. kick, snare, hat) or label names (tagger), in output
    order."""
    artifacts: tuple[ArtifactSpec, ...]
    macs_per_second: float
    n_parameters: int
    context_frames: int = 0
    """Tagger only: how many past STFT frames one tagger call sees."""
    every_n_hops: int = 1
    """Tagger and separator: run once every this many hops (the separator's masks are held between runs)."""

    def artifact(self, runtime: str, precision: str) -> ArtifactSpec | None:
        for artifact in self.artifacts:
            if artifact.runtime == runtime and artifact.precision == precision:
                return artifact
        return None


@dataclass(frozen=True)
class Pack:
    """A validated model pack. ``root`` is the directory holding the artifacts (a zip is extracted first)."""

    source: str
    root: Path
    name: str
    version: str
    manifest: dict[str, Any]
    models: dict[str, ModelSpec]

    @property
    def separator(self) -> ModelSpec | None:
        return next((m for m in self.models.values() if m.role == "separator"), None)

    @property
    def onsets(self) -> ModelSpec | None:
        return next((m for m in self.models.values() if m.role == "onsets"), None)

    @property
    def tagger(self) -> ModelSpec | None:
        return next((m for m in self.models.values() if m.role == "tagger"), None)

    def artifact_path(self, artifact: ArtifactSpec) -> Path:
        return self.root / artifact.file


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundled_pack_path(name: str = DEFAULT_PACK_NAME) -> Path:
    """Path of a pack shipped inside the package; falls back to the test pack while no default pack is bundled."""
    path = BUNDLED_PACK_DIR / name
    if not path.exists() and name == DEFAULT_PACK_NAME:
        path = BUNDLED_PACK_DIR / TEST_PACK_NAME
    return path


class _ManifestDocument(ConfigDocument):
    """A pack's manifest.json: errors are PackErrors naming the pack and the manifest field."""

    table_word = "an object"

    def __init__(self, pack: str) -> None:
        super().__init__("model pack", pack)

    def error(self, path: KeyPath, problem: str, expected: str | None = None) -> PackError:
        return PackError(self.source, key_name(path), problem, expected)


_SHAPE = "a list of positive ints, -1 for the frames axis"


def _shape(reader: TableReader) -> tuple[int, ...]:
    shape = reader.get("shape", list, expected=_SHAPE)
    if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == DYNAMIC) for d in shape):
        raise reader.error("shape", f"is {shape!r}", _SHAPE)
    return tuple(shape)


def _tensor(reader: TableReader) -> TensorSpec:
    return TensorSpec(reader.get("name", str, expected="a tensor name"), _shape(reader), reader.choice("dtype", DTYPES))


def _state(reader: TableReader) -> StateSpec:
    shape = _shape(reader)
    if DYNAMIC in shape:
        raise reader.error("shape", f"is {list(shape)}", "a fixed shape (states have no frames axis)")
    return StateSpec(
        reader.get("input", str, expected="the state's input tensor name"),
        reader.get("output", str, expected="the state's output tensor name"),
        shape,
        reader.choice("dtype", DTYPES),
    )


def _artifact(reader: TableReader) -> ArtifactSpec:
    frames_per_step = reader.get("frames_per_step", (int, type(None)), None, expected="a positive int or null")
    if frames_per_step is not None and frames_per_step < 1:
        raise reader.error("frames_per_step", f"is {frames_per_step}", "a positive int or null")
    io_names = reader.get("io_names", dict, {}, expected="a map of tensor name -> artifact tensor name")
    sha = reader.get("sha256", str, expected="64 lowercase hex digits")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise reader.error("sha256", f"is {sha!r}", "64 lowercase hex digits")
    return ArtifactSpec(
        reader.get("file", str, expected="a file name inside the pack"),
        reader.choice("runtime", RUNTIMES),
        reader.choice("precision", PRECISIONS),
        sha,
        frames_per_step,
        dict(io_names),
    )


def _parse_model(reader: TableReader) -> ModelSpec:
    role = reader.choice("role", ROLES)
    if role == "separator" and "onset_classes" in reader:
        raise reader.error(
            "onset_classes",
            "is set: a separator with its own onset output (the pack format of sense-default 1.3.0-1.5.0)",
            "the onset branch as a model of its own with role 'onsets' (re-export the pack with this version)",
        )
    names = reader.strings(NAMES_KEY[role], non_empty=True)
    tensors = {kind: tuple(_tensor(item) for item in reader.tables_at(kind)) for kind in ("inputs", "outputs")}
    states = tuple(_state(item) for item in reader.tables_at("states", default=[]))
    artifacts = tuple(_artifact(item) for item in reader.tables_at("artifacts"))
    if not artifacts:
        raise reader.error("artifacts", "is empty", "at least one artifact")
    spec = ModelSpec(
        key=reader.path[-1],
        role=role,
        sample_rate_hz=reader.integer("sample_rate_hz", low=1),
        n_fft=reader.integer("n_fft", low=1),
        hop=reader.integer("hop", low=1),
        window=reader.get("window", str, expected="'hann'"),
        algorithmic_latency_ms=reader.number("algorithmic_latency_ms", low=0.0),
        inputs=tensors["inputs"],
        outputs=tensors["outputs"],
        states=states,
        names=names,
        artifacts=artifacts,
        macs_per_second=reader.number("macs_per_second", low=0.0),
        n_parameters=reader.integer("n_parameters", low=0),
        context_frames=reader.integer("context_frames", 0, low=0),
        every_n_hops=reader.integer("every_n_hops", 1, low=1),
    )
    _check_model_shapes(reader.document.source, key_name(reader.path), spec)
    return spec


def _check_model_shapes(pack: str, where: str, spec: ModelSpec) -> None:
    """The manifest must agree with itself: input bins = n_fft // 2 + 1, output sizes = stems/labels."""
    n_bins = spec.n_fft // 2 + 1
    if spec.sample_rate_hz != DEVICE_STREAM.sample_rate_hz:
        raise PackError(
            pack,
            f"{where}.sample_rate_hz",
            f"is {spec.sample_rate_hz}",
            f"{DEVICE_STREAM.sample_rate_hz} (the device rate)",
        )
    if len(spec.inputs) != 1 or len(spec.outputs) != 1:
        raise PackError(
            pack,
            f"{where}.inputs/outputs",
            f"has {len(spec.inputs)} inputs and {len(spec.outputs)} outputs",
            "exactly one input (magnitude) and one output",
        )
    if spec.role == "separator" and spec.every_n_hops > 1:
        for i, artifact in enumerate(spec.artifacts):
            if artifact.frames_per_step not in (None, 1):
                raise PackError(
                    pack,
                    f"{where}.artifacts[{i}].frames_per_step",
                    f"is {artifact.frames_per_step} with every_n_hops = {spec.every_n_hops}",
                    "null or 1 (a separator that runs every few hops takes its frames one or any number at a time)",
                )
    in_shape, out_shape = spec.inputs[0].shape, spec.outputs[0].shape
    if in_shape[-1] != n_bins:
        raise PackError(
            pack, f"{where}.inputs[0].shape", f"is {list(in_shape)}", f"last dimension n_fft // 2 + 1 = {n_bins}"
        )
    if spec.role in ("separator", "onsets"):
        expected = [1, DYNAMIC, len(spec.names), n_bins] if spec.role == "separator" else [1, DYNAMIC, len(spec.names)]
        axes = "(batch, frames, stems, bins)" if spec.role == "separator" else "(batch, frames, onset classes)"
        if list(out_shape) != expected:
            raise PackError(pack, f"{where}.outputs[0].shape", f"is {list(out_shape)}", f"{expected} {axes}")
    else:
        if spec.context_frames < 1 or list(in_shape) != [1, spec.context_frames, n_bins]:
            raise PackError(
                pack,
                f"{where}.inputs[0].shape",
                f"is {list(in_shape)}",
                f"[1, context_frames={spec.context_frames}, {n_bins}] with context_frames >= 1",
            )
        if list(out_shape) != [1, len(spec.names)]:
            raise PackError(
                pack, f"{where}.outputs[0].shape", f"is {list(out_shape)}", f"[1, {len(spec.names)}] (batch, labels)"
            )


def _verify_artifacts(pack: str, root: Path, spec: ModelSpec) -> None:
    for i, artifact in enumerate(spec.artifacts):
        where = f"models.{spec.key}.artifacts[{i}]"
        path = root / artifact.file
        if not path.is_file():
            raise PackError(pack, f"{where}.file", f"{artifact.file!r} is missing from the pack", "an existing file")
        actual = sha256_of(path)
        if actual != artifact.sha256:
            raise PackError(pack, f"{where}.sha256", f"{artifact.file} hashes to {actual}", artifact.sha256)


def parse_manifest(pack: str, manifest: Any, root: Path, verify_hashes: bool = True) -> Pack:
    """Validate a manifest dict (and, with ``verify_hashes``, every artifact's presence and sha256)."""
    if not isinstance(manifest, dict):
        raise PackError(pack, "manifest.json", "is not a JSON object", "an object")
    reader = TableReader(_ManifestDocument(pack), manifest)
    version = reader.integer("schema_version")
    if version != SCHEMA_VERSION:
        raise reader.error(
            "schema_version", f"is {version}", f"{SCHEMA_VERSION} (this runtime reads schema {SCHEMA_VERSION})"
        )
    models_reader = reader.table_at("models")
    models = {key: _parse_model(models_reader.table_at(key)) for key in models_reader.table}
    if not models:
        raise reader.error("models", "is empty", "at least one model")
    separator = next((m for m in models.values() if m.role == "separator"), None)
    for model in models.values():
        if separator is not None and (model.n_fft, model.hop, model.window) != (
            separator.n_fft,
            separator.hop,
            separator.window,
        ):
            raise PackError(
                pack,
                f"models.{model.key}.n_fft/hop/window",
                f"is {model.n_fft}/{model.hop}/{model.window}",
                f"{separator.n_fft}/{separator.hop}/{separator.window}, the separator's (one STFT feeds both)",
            )
        if verify_hashes:
            _verify_artifacts(pack, root, model)
    return Pack(
        source=pack,
        root=root,
        name=reader.get("name", str, expected="the pack name"),
        version=reader.get("version", str, expected="a version string"),
        manifest=manifest,
        models=models,
    )


def load_pack(path: str | Path | None = None, verify_hashes: bool = True) -> Pack:
    """Load and validate a pack directory or .zip (None: the bundled default pack)."""
    path = Path(path) if path is not None else bundled_pack_path()
    pack = str(path)
    if path.is_file() and path.suffix == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise PackError(pack, "(archive)", "is not a valid zip file", "a zip holding manifest.json") from None
        root = Path(tempfile.mkdtemp(prefix="sense-pack-"))
        with archive:
            archive.extractall(root)
        inner = [p.parent for p in root.rglob("manifest.json")]
        root = inner[0] if len(inner) == 1 else root
    elif path.is_dir():
        root = path
    else:
        raise PackError(pack, "(path)", "does not exist", "a pack directory or .zip")
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise PackError(pack, "manifest.json", "is missing", "a manifest.json at the pack's top level")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise PackError(
            pack, "manifest.json", f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    return parse_manifest(pack, manifest, root, verify_hashes)
