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

SCHEMA_VERSION = 1
ROLES = ("separator", "tagger")
RUNTIMES = ("onnx", "litert")
PRECISIONS = ("fp32", "int8")
DTYPES = ("float32", "int64", "int32")
DYNAMIC = -1
"""A shape entry of -1 is the frames axis, whose size is chosen per call."""

ARTIFACT_SUFFIX = {("onnx", "fp32"): ".onnx", ("onnx", "int8"): ".int8.onnx",
                   ("litert", "fp32"): ".tflite", ("litert", "int8"): ".int8.tflite"}
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
    """One model of a pack (``role`` is 'separator' or 'tagger')."""

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
    """Stem names (separator) or label names (tagger), in output order."""
    artifacts: tuple[ArtifactSpec, ...]
    macs_per_second: float
    n_parameters: int
    context_frames: int = 0
    """Tagger only: how many past STFT frames one tagger call sees."""
    every_n_hops: int = 1
    """Tagger only: run once every this many hops."""
    onset_classes: tuple[str, ...] = ()
    """Separator only: the classes of its drum-onset output (``outputs[1]``, named 'onsets'), if it has one."""

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


class _Reader:
    """Reads typed fields from the manifest, raising PackError with the dotted field path on any mismatch."""

    def __init__(self, pack: str) -> None:
        self.pack = pack

    def get(self, obj: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], expected: str) -> Any:
        path = f"{where}.{key}" if where else key
        if not isinstance(obj, dict) or key not in obj:
            raise PackError(self.pack, path, "missing", expected)
        value = obj[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise PackError(self.pack, path, f"is {value!r}", expected)
        return value

    def optional(self, obj: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], expected: str,
                 default: Any) -> Any:
        return self.get(obj, key, where, kind, expected) if key in obj else default

    def choice(self, obj: dict[str, Any], key: str, where: str, choices: tuple[str, ...]) -> str:
        value = self.get(obj, key, where, str, f"one of {list(choices)}")
        if value not in choices:
            raise PackError(self.pack, f"{where}.{key}", f"is {value!r}", f"one of {list(choices)}")
        return value

    def shape(self, obj: dict[str, Any], where: str) -> tuple[int, ...]:
        shape = self.get(obj, "shape", where, list, "a list of positive ints, -1 for the frames axis")
        if not shape or not all(isinstance(d, int) and (d > 0 or d == DYNAMIC) for d in shape):
            raise PackError(self.pack, f"{where}.shape", f"is {shape!r}", "a list of positive ints, -1 for the frames axis")
        return tuple(shape)

    def tensor(self, obj: dict[str, Any], where: str) -> TensorSpec:
        return TensorSpec(self.get(obj, "name", where, str, "a tensor name"), self.shape(obj, where),
                          self.choice(obj, "dtype", where, DTYPES))

    def state(self, obj: dict[str, Any], where: str) -> StateSpec:
        shape = self.shape(obj, where)
        if DYNAMIC in shape:
            raise PackError(self.pack, f"{where}.shape", f"is {list(shape)}", "a fixed shape (states have no frames axis)")
        return StateSpec(self.get(obj, "input", where, str, "the state's input tensor name"),
                         self.get(obj, "output", where, str, "the state's output tensor name"),
                         shape, self.choice(obj, "dtype", where, DTYPES))

    def artifact(self, obj: dict[str, Any], where: str) -> ArtifactSpec:
        frames_per_step = self.optional(obj, "frames_per_step", where, (int, type(None)), "a positive int or null", None)
        if frames_per_step is not None and frames_per_step < 1:
            raise PackError(self.pack, f"{where}.frames_per_step", f"is {frames_per_step}", "a positive int or null")
        io_names = self.optional(obj, "io_names", where, dict, "a map of tensor name -> artifact tensor name", {})
        sha = self.get(obj, "sha256", where, str, "64 hex digits")
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise PackError(self.pack, f"{where}.sha256", f"is {sha!r}", "64 lowercase hex digits")
        return ArtifactSpec(self.get(obj, "file", where, str, "a file name inside the pack"),
                            self.choice(obj, "runtime", where, RUNTIMES), self.choice(obj, "precision", where, PRECISIONS),
                            sha, frames_per_step, dict(io_names))


def _parse_model(reader: _Reader, key: str, obj: dict[str, Any]) -> ModelSpec:
    where = f"models.{key}"
    role = reader.choice(obj, "role", where, ROLES)
    names_key = "stems" if role == "separator" else "labels"
    names = reader.get(obj, names_key, where, list, f"a non-empty list of {names_key}")
    if not names or not all(isinstance(n, str) for n in names):
        raise PackError(reader.pack, f"{where}.{names_key}", f"is {names!r}", f"a non-empty list of {names_key}")
    tensors = {kind: tuple(reader.tensor(t, f"{where}.{kind}[{i}]")
                           for i, t in enumerate(reader.get(obj, kind, where, list, f"a list of {kind} tensors")))
               for kind in ("inputs", "outputs")}
    states = tuple(reader.state(s, f"{where}.states[{i}]")
                   for i, s in enumerate(reader.optional(obj, "states", where, list, "a list of states", [])))
    artifacts = tuple(reader.artifact(a, f"{where}.artifacts[{i}]")
                      for i, a in enumerate(reader.get(obj, "artifacts", where, list, "a list of artifacts")))
    if not artifacts:
        raise PackError(reader.pack, f"{where}.artifacts", "is empty", "at least one artifact")
    n_fft = reader.get(obj, "n_fft", where, int, "a positive int")
    spec = ModelSpec(
        key=key, role=role,
        sample_rate_hz=reader.get(obj, "sample_rate_hz", where, int, str(DEVICE_STREAM.sample_rate_hz)),
        n_fft=n_fft, hop=reader.get(obj, "hop", where, int, "a positive int"),
        window=reader.get(obj, "window", where, str, "'hann'"),
        algorithmic_latency_ms=float(reader.get(obj, "algorithmic_latency_ms", where, (int, float), "milliseconds")),
        inputs=tensors["inputs"], outputs=tensors["outputs"], states=states, names=tuple(names), artifacts=artifacts,
        macs_per_second=float(reader.get(obj, "macs_per_second", where, (int, float), "MACs per second of audio")),
        n_parameters=reader.get(obj, "n_parameters", where, int, "the parameter count"),
        context_frames=reader.optional(obj, "context_frames", where, int, "a positive int", 0),
        every_n_hops=reader.optional(obj, "every_n_hops", where, int, "a positive int", 1),
        onset_classes=tuple(reader.optional(obj, "onset_classes", where, list, "a list of drum onset classes", [])),
    )
    _check_model_shapes(reader.pack, where, spec)
    return spec


def _check_model_shapes(pack: str, where: str, spec: ModelSpec) -> None:
    """The manifest must agree with itself: input bins = n_fft // 2 + 1, output sizes = stems/labels."""
    n_bins = spec.n_fft // 2 + 1
    if spec.sample_rate_hz != DEVICE_STREAM.sample_rate_hz:
        raise PackError(pack, f"{where}.sample_rate_hz", f"is {spec.sample_rate_hz}",
                        f"{DEVICE_STREAM.sample_rate_hz} (the device rate)")
    n_outputs = 1 + bool(spec.onset_classes)
    if len(spec.inputs) != 1 or len(spec.outputs) != n_outputs:
        raise PackError(pack, f"{where}.inputs/outputs", f"has {len(spec.inputs)} inputs and {len(spec.outputs)} outputs",
                        "exactly one input (magnitude) and one output (a separator with onset_classes: two)")
    if spec.onset_classes:
        expected_onsets = [1, DYNAMIC, len(spec.onset_classes)]
        if spec.role != "separator" or spec.outputs[1].name != "onsets" or list(spec.outputs[1].shape) != expected_onsets:
            raise PackError(pack, f"{where}.outputs[1]", f"is {spec.outputs[1].name} {list(spec.outputs[1].shape)}",
                            f"a separator's 'onsets' output of shape {expected_onsets} (batch, frames, onset classes)")
    in_shape, out_shape = spec.inputs[0].shape, spec.outputs[0].shape
    if in_shape[-1] != n_bins:
        raise PackError(pack, f"{where}.inputs[0].shape", f"is {list(in_shape)}", f"last dimension n_fft // 2 + 1 = {n_bins}")
    if spec.role == "separator":
        expected = [1, DYNAMIC, len(spec.names), n_bins]
        if list(out_shape) != expected:
            raise PackError(pack, f"{where}.outputs[0].shape", f"is {list(out_shape)}", f"{expected} (batch, frames, stems, bins)")
    else:
        if spec.context_frames < 1 or list(in_shape) != [1, spec.context_frames, n_bins]:
            raise PackError(pack, f"{where}.inputs[0].shape", f"is {list(in_shape)}",
                            f"[1, context_frames={spec.context_frames}, {n_bins}] with context_frames >= 1")
        if list(out_shape) != [1, len(spec.names)]:
            raise PackError(pack, f"{where}.outputs[0].shape", f"is {list(out_shape)}", f"[1, {len(spec.names)}] (batch, labels)")


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
    reader = _Reader(pack)
    if not isinstance(manifest, dict):
        raise PackError(pack, "manifest.json", "is not a JSON object", "an object")
    version = reader.get(manifest, "schema_version", "", int, f"{SCHEMA_VERSION}")
    if version != SCHEMA_VERSION:
        raise PackError(pack, "schema_version", f"is {version}", f"{SCHEMA_VERSION} (this runtime reads schema {SCHEMA_VERSION})")
    models_obj = reader.get(manifest, "models", "", dict, "an object of models by key")
    models = {key: _parse_model(reader, key, obj) for key, obj in models_obj.items()}
    if not models:
        raise PackError(pack, "models", "is empty", "at least one model")
    separator = next((m for m in models.values() if m.role == "separator"), None)
    for model in models.values():
        if separator is not None and (model.n_fft, model.hop, model.window) != (separator.n_fft, separator.hop, separator.window):
            raise PackError(pack, f"models.{model.key}.n_fft/hop/window", f"is {model.n_fft}/{model.hop}/{model.window}",
                            f"{separator.n_fft}/{separator.hop}/{separator.window}, the separator's (one STFT feeds both)")
        if verify_hashes:
            _verify_artifacts(pack, root, model)
    return Pack(source=pack, root=root, name=reader.get(manifest, "name", "", str, "the pack name"),
                version=reader.get(manifest, "version", "", str, "a version string"), manifest=manifest, models=models)


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
        raise PackError(pack, "manifest.json", f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    return parse_manifest(pack, manifest, root, verify_hashes)
