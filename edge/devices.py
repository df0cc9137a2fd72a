"""What this board has for SENSE: I2C buses and the chips that answer, GPIO and PWM chips, sound cards, a
Bluetooth adapter, the inference runtimes and output libraries that import - each with a fix when missing.

Library functions behind ``sense devices`` and ``sense doctor``. Paths are parameters (:class:`SystemPaths`) and
the I2C backend is resolved like every I2C output (:func:`edge.buses.i2c.resolve_bus_factory`), so the same
code runs on a Pi, on a desk and in tests with a fake bus.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import importlib.metadata
import importlib.util
import io
import platform
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.buses.gpio import board_model, import_lgpio, is_raspberry_pi_5
from edge.buses.i2c import I2C_ADDRESS_MAX, I2C_ADDRESS_MIN, BusFactory, SMBusLike, resolve_bus_factory
from edge.errors import InferenceError, OutputError, PackError

KNOWN_I2C_CHIPS: dict[int, tuple[str, ...]] = {
    0x1D: ("ADXL345 accelerometer",),
    0x29: ("VL53L0X distance sensor",),
    0x3C: ("SSD1306 OLED",),
    0x3D: ("SSD1306 OLED",),
    0x40: ("PCA9685 PWM controller", "INA219 current sensor", "HTU21D/Si7021 humidity sensor"),
    0x48: ("ADS1115 ADC", "TMP102 thermometer"),
    0x53: ("ADXL345 accelerometer",),
    0x5A: ("DRV2605L haptic driver", "MLX90614 thermometer"),
    0x68: ("DS3231 clock", "MPU-6050 IMU"),
    0x76: ("BME280/BMP280 sensor", "TCA9548A I2C mux"),
    0x77: ("BME280/BMP280 sensor", "TCA9548A I2C mux"),
}
for _address in range(0x41, 0x80):
    if _address not in (0x48, 0x53, 0x5A, 0x68, 0x70, 0x76, 0x77):
        KNOWN_I2C_CHIPS.setdefault(_address, ("PCA9685 PWM controller (address straps)",))
for _address in range(0x70, 0x76):
    KNOWN_I2C_CHIPS[_address] = ("TCA9548A I2C mux",)
KNOWN_I2C_CHIPS[0x70] = ("TCA9548A I2C mux", "PCA9685 all-call address (until its driver clears ALLCALL)")

READ_PROBE_RANGES = (range(0x30, 0x38), range(0x50, 0x60))
"""Probe these with a read, as i2cdetect does: a quick write can corrupt some EEPROMs."""

DRV2605_ADDRESS = 0x5A
DRV2605_STATUS = 0x00
DRV2605_IDS = {7: "DRV2605L", 3: "DRV2605", 6: "DRV2604L", 4: "DRV2604"}
RUNTIME_MODULES = (
    ("onnxruntime", "onnx", "ONNX models"),
    ("ai_edge_litert", "litert", "TFLite models (LiteRT)"),
    ("tflite_runtime", None, "TFLite models (older runtime, fallback for LiteRT)"),
)
OUTPUT_MODULES = (
    ("smbus2", "i2c", "pca9685:// and drv2605:// outputs"),
    ("gpiozero", "gpio", "gpio:// outputs"),
    ("sounddevice", "audio", "audio:// outputs"),
    ("serial", "serial", "serial:// outputs (pyserial)"),
    ("bleak", "ble", "ble:// outputs"),
)
THIRTY_TWO_BIT_ARM = ("armv6l", "armv7l", "armhf")
DISTRIBUTIONS = {"serial": "pyserial", "ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}


def _version(module: str, imported: Any) -> str:
    version = getattr(imported, "__version__", "")
    if version:
        return str(version)
    try:
        return importlib.metadata.version(DISTRIBUTIONS.get(module, module))
    except importlib.metadata.PackageNotFoundError:
        return ""


class Status(str, enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One thing checked: ``area`` (i2c, gpio, pwm, audio, ble, runtime, output, board), what was found, and a
    fix when the status is not ok."""

    area: str
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class SystemPaths:
    dev: Path = Path("/dev")
    sys: Path = Path("/sys")
    device_tree_model: Path = Path("/proc/device-tree/model")


@dataclass(frozen=True)
class I2CChip:
    address: int
    names: tuple[str, ...]
    confirmed: str = ""

    def describe(self) -> str:
        if self.confirmed:
            return self.confirmed
        return " or ".join(self.names) if self.names else "unknown chip"


@dataclass
class I2CBusScan:
    bus_number: int
    chips: list[I2CChip] = field(default_factory=list)
    error: str = ""


def list_i2c_buses(paths: SystemPaths = SystemPaths()) -> list[int]:
    """Bus numbers N of ``/dev/i2c-N``."""
    numbers = []
    for path in paths.dev.glob("i2c-*"):
        match = re.fullmatch(r"i2c-(\d+)", path.name)
        if match:
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def _answers(smbus: SMBusLike, address: int) -> bool:
    try:
        if any(address in probe_range for probe_range in READ_PROBE_RANGES):
            smbus.read_byte(address)
        else:
            smbus.write_quick(address)
    except OSError:
        return False
    return True


def _confirm(smbus: SMBusLike, address: int) -> str:
    """A chip name confirmed by reading an ID register, where we know one (the DRV2605L family)."""
    if address != DRV2605_ADDRESS:
        return ""
    try:
        device_id = smbus.read_byte_data(address, DRV2605_STATUS) >> 5
    except OSError:
        return ""
    name = DRV2605_IDS.get(device_id)
    return f"{name} haptic driver (device id {device_id})" if name else ""


def scan_i2c_bus(bus_number: int, factory: BusFactory | None = None) -> I2CBusScan:
    """Addresses 0x03..0x77 that acknowledge on bus ``bus_number``, with candidate chip names."""
    scan = I2CBusScan(bus_number)
    try:
        smbus = resolve_bus_factory(factory)(bus_number)
    except (OSError, OutputError) as error:
        scan.error = str(error)
        return scan
    try:
        for address in range(I2C_ADDRESS_MIN, I2C_ADDRESS_MAX + 1):
            if _answers(smbus, address):
                scan.chips.append(I2CChip(address, KNOWN_I2C_CHIPS.get(address, ()), _confirm(smbus, address)))
    finally:
        smbus.close()
    return scan


def i2c_findings(
    paths: SystemPaths, bus_numbers: list[int] | None, factory: BusFactory | None
) -> tuple[list[Finding], list[I2CBusScan]]:
    numbers = list_i2c_buses(paths) if bus_numbers is None else bus_numbers
    if not numbers:
        return [
            Finding(
                "i2c",
                "I2C",
                Status.WARN,
                f"no I2C bus ({paths.dev}/i2c-* not found)",
                "Raspberry Pi: 'sudo raspi-config nonint do_i2c 0' (or 'dtparam=i2c_arm=on' in /boot/firmware/config.txt), "
                "then reboot",
            )
        ], []
    findings, scans = [], []
    for number in numbers:
        scan = scan_i2c_bus(number, factory)
        scans.append(scan)
        if scan.error:
            fix = (
                "add your user to the i2c group: 'sudo usermod -aG i2c $USER', then log in again"
                if "permission" in scan.error.lower()
                else "check that the bus exists: 'ls /dev/i2c-*'"
            )
            findings.append(Finding("i2c", f"/dev/i2c-{number}", Status.WARN, scan.error, fix))
        elif not scan.chips:
            findings.append(
                Finding(
                    "i2c",
                    f"/dev/i2c-{number}",
                    Status.WARN,
                    "no device answers",
                    "check wiring (SDA/SCL, 3.3 V, GND), pull-ups, and the chip's address straps",
                )
            )
        else:
            detail = "; ".join(f"0x{chip.address:02x} {chip.describe()}" for chip in scan.chips)
            findings.append(Finding("i2c", f"/dev/i2c-{number}", Status.OK, detail))
    return findings, scans


def gpio_findings(paths: SystemPaths) -> list[Finding]:
    chips = sorted(path.name for path in paths.dev.glob("gpiochip*"))
    if not chips:
        return [
            Finding(
                "gpio",
                "GPIO",
                Status.WARN,
                f"no GPIO chip ({paths.dev}/gpiochip* not found)",
                "only a Raspberry Pi (or similar board) has GPIO for gpio:// outputs",
            )
        ]
    findings = [Finding("gpio", "GPIO", Status.OK, ", ".join(chips))]
    pi_5 = is_raspberry_pi_5(paths.device_tree_model)
    if pi_5 or importlib.util.find_spec("lgpio") is not None:
        try:
            lgpio = import_lgpio()
        except OutputError as error:
            message, _, fix = str(error).partition(" Fix: ")
            need = "a Pi 5 needs lgpio for GPIO: " if pi_5 else ""
            findings.append(Finding("gpio", "lgpio", Status.WARN, need + message, fix))
        else:
            findings.append(Finding("gpio", "lgpio", Status.OK, f"{_version('lgpio', lgpio)} starts".lstrip()))
    return findings


def pwm_findings(paths: SystemPaths) -> list[Finding]:
    chips = []
    for chip in sorted((paths.sys / "class" / "pwm").glob("pwmchip*")):
        n_channels = (chip / "npwm").read_text().strip() if (chip / "npwm").exists() else "?"
        chips.append(f"{chip.name} ({n_channels} channels)")
    if not chips:
        return [
            Finding(
                "pwm",
                "hardware PWM",
                Status.WARN,
                "no PWM chip in /sys/class/pwm",
                "for gpio://?pwm=hardware add 'dtoverlay=pwm-2chan' to /boot/firmware/config.txt and reboot; "
                "software PWM works without it",
            )
        ]
    return [Finding("pwm", "hardware PWM", Status.OK, ", ".join(chips))]


def audio_findings() -> list[Finding]:
    try:
        sounddevice = importlib.import_module("sounddevice")
    except ImportError:
        return [
            Finding(
                "audio", "sound cards", Status.WARN, "sounddevice is not installed", "pip install 'sense-edge[audio]'"
            )
        ]
    except OSError as error:
        return [
            Finding(
                "audio", "sound cards", Status.WARN, f"PortAudio is missing: {error}", "sudo apt install libportaudio2"
            )
        ]
    try:
        devices: Any = sounddevice.query_devices()
    except Exception as error:  # PortAudio reports host-API trouble with its own error type
        return [
            Finding("audio", "sound cards", Status.WARN, f"cannot list sound cards: {error}", "check ALSA: 'aplay -l'")
        ]
    outputs = [
        f"[{index}] {device['name']} ({device['max_output_channels']} ch, {device['default_samplerate']:.0f} Hz)"
        for index, device in enumerate(devices)
        if device.get("max_output_channels", 0) > 0
    ]
    if not outputs:
        return [
            Finding(
                "audio",
                "sound cards",
                Status.WARN,
                "no audio output device",
                "plug in a USB sound card or amplifier HAT for audio:// (check with 'aplay -l')",
            )
        ]
    return [Finding("audio", "sound cards", Status.OK, "; ".join(outputs))]


def ble_findings(paths: SystemPaths) -> list[Finding]:
    adapters = sorted(path.name for path in (paths.sys / "class" / "bluetooth").glob("hci*"))
    if not adapters:
        return [
            Finding(
                "ble",
                "Bluetooth",
                Status.WARN,
                "no Bluetooth adapter",
                "plug in a BLE USB adapter, or on a Pi remove 'dtoverlay=disable-bt'; then "
                "'sudo apt install bluez' and 'sudo systemctl enable --now bluetooth'",
            )
        ]
    return [Finding("ble", "Bluetooth", Status.OK, ", ".join(adapters))]


def _module_finding(area: str, module: str, extra: str | None, purpose: str, *, required: bool) -> Finding:
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # an extension built for another NumPy prints a page first
            imported = importlib.import_module(module)
    except ImportError as error:
        if platform.machine() in THIRTY_TWO_BIT_ARM and module in ("onnxruntime", "ai_edge_litert"):
            fix = "there are no wheels for 32-bit Raspberry Pi OS: install the 64-bit OS"
        elif extra:
            fix = f"pip install 'sense-edge[{extra}]'"
        else:
            fix = f"optional; pip install {module.replace('_', '-')} where wheels exist"
        status = Status.FAIL if required else Status.WARN
        return Finding(area, module, status, f"does not import ({error}); needed for {purpose}", fix)
    except OSError as error:  # a module whose native library is missing (sounddevice without PortAudio)
        return Finding(
            area,
            module,
            Status.WARN,
            f"imports but its native library is missing: {error}",
            "sudo apt install libportaudio2" if module == "sounddevice" else "reinstall it",
        )
    except Exception as error:  # an extension module that fails in its own way (built for another NumPy, ...)
        return Finding(
            area,
            module,
            Status.WARN,
            f"fails to import ({type(error).__name__}: {error})",
            f"pip install --force-reinstall 'sense-edge[{extra}]'" if extra else "reinstall it",
        )
    return Finding(area, module, Status.OK, f"{_version(module, imported)} for {purpose}".strip())


RUNTIME_PROOFS = (("onnxruntime", "onnx"), ("ai_edge_litert", "litert"), ("tflite_runtime", "litert"))
"""(module, runtime of the pack's artifacts): each installed module is proven by running the bundled pack on it."""


def prove_runtime(module: str, runtime: str, pack_path: str | Path | None = None) -> str:
    """Load every artifact of ``runtime`` in the pack (default: the bundled one) with ``module`` and run one hop of
    each (zeros in, finite numbers out). Returns what ran; raises :class:`SenseError` (or what the runtime raises)."""
    import numpy as np

    from edge.model_stages import model_stage
    from edge.pack import load_pack
    from edge.runners.base import ModelRunner

    pack = load_pack(pack_path)
    ran = []
    for model in pack.models.values():
        for precision in ("fp32", "int8"):
            artifact = model.artifact(runtime, precision) if model else None
            if model is None or artifact is None:
                continue
            runner: ModelRunner
            if runtime == "onnx":
                from edge.runners.onnx_runner import OnnxRunner

                runner = OnnxRunner(model, artifact, pack.artifact_path(artifact), 1)
            else:
                from edge.runners.litert_runner import LiteRtRunner

                runner = LiteRtRunner(model, artifact, pack.artifact_path(artifact), 1, module=module)
            n_bins = model.inputs[0].shape[-1]
            n_frames = max(model.every_n_hops, runner.frames_per_step or 1)  # enough for one run of the model
            result = model_stage(runner).process(np.zeros((n_frames, n_bins), np.float32))
            if result.size == 0 or not np.all(np.isfinite(result)):
                raise InferenceError(f"{pack.artifact_path(artifact)}: one hop gave no or non-finite output")
            ran.append(f"{model.role} {precision}")
    if not ran:
        raise PackError(pack.source, "models", f"ships no {runtime} artifact")
    return f"ran one hop of {pack.name} {pack.version}: {', '.join(ran)}"


def _runtime_finding(
    module: str, runtime: str, extra: str | None, purpose: str, pack_path: str | Path | None
) -> Finding:
    found = _module_finding("runtime", module, extra, purpose, required=False)
    if found.status is not Status.OK:
        return found
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # an extension built for another NumPy prints a page first
            ran = prove_runtime(module, runtime, pack_path)
    except Exception as error:  # whatever a broken runtime raises is the finding
        fix = (
            f"pip install 'sense-edge[{extra or 'litert'}]'"
            if module != "tflite_runtime"
            else "pip install 'sense-edge[litert]' (ai-edge-litert replaces tflite-runtime and works with NumPy 2), "
            "or 'pip uninstall tflite-runtime'"
        )
        return Finding("runtime", module, Status.FAIL, f"imports but cannot run a model: {error}", fix)
    return Finding("runtime", module, Status.OK, f"{found.detail}; {ran}")


def runtime_findings(pack_path: str | Path | None = None) -> list[Finding]:
    """Each inference runtime, proven by loading the bundled pack and running one hop (importing proves little:
    tflite_runtime imports under NumPy 2 and then cannot run). A runtime that is installed but cannot run fails,
    unless the other LiteRT module runs (then it is not used). DSP-only runs need no runtime."""
    purposes = {module: (extra, purpose) for module, extra, purpose in RUNTIME_MODULES}
    findings = {
        module: _runtime_finding(module, runtime, *purposes[module], pack_path) for module, runtime in RUNTIME_PROOFS
    }
    litert, fallback = findings["ai_edge_litert"], findings["tflite_runtime"]
    if litert.status is Status.OK and fallback.status is Status.FAIL:
        findings["tflite_runtime"] = Finding(
            "runtime", "tflite_runtime", Status.WARN, f"not used (ai_edge_litert runs); {fallback.detail}", fallback.fix
        )
    elif litert.status is Status.OK and fallback.status is not Status.OK:
        findings["tflite_runtime"] = Finding("runtime", "tflite_runtime", Status.OK, "not needed: ai_edge_litert runs")
    elif fallback.status is Status.OK and litert.status is not Status.OK:
        findings["ai_edge_litert"] = Finding(
            "runtime",
            "ai_edge_litert",
            Status.WARN,
            "not installed; TFLite models run on the older tflite_runtime, at ~5.7x the instructions",
            litert.fix,
        )
    if not any(finding.status is Status.OK for finding in findings.values()):
        onnx = findings["onnxruntime"]
        findings["onnxruntime"] = Finding(
            onnx.area,
            onnx.name,
            Status.FAIL,
            f"no inference runtime runs, so model packs cannot run ({onnx.detail})",
            onnx.fix or "pip install 'sense-edge[onnx]'",
        )
    return list(findings.values())


def output_library_findings() -> list[Finding]:
    return [
        _module_finding("output", module, extra, purpose, required=False) for module, extra, purpose in OUTPUT_MODULES
    ]


def board_findings(paths: SystemPaths) -> list[Finding]:
    model = board_model(paths.device_tree_model)
    machine = platform.machine()
    findings = [Finding("board", "model", Status.OK, f"{model or 'not a device-tree board'} ({machine})")]
    if machine in THIRTY_TWO_BIT_ARM:
        findings.append(
            Finding(
                "board",
                "OS",
                Status.WARN,
                "32-bit OS: onnxruntime and LiteRT have no wheels for it",
                "install 64-bit Raspberry Pi OS",
            )
        )
    return findings


@dataclass
class Survey:
    findings: list[Finding]
    i2c_scans: list[I2CBusScan]

    @property
    def ok(self) -> bool:
        """No finding failed (warnings are things this board doesn't have or doesn't need)."""
        return not any(finding.status is Status.FAIL for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "findings": [{**asdict(finding), "status": finding.status.value} for finding in self.findings],
            "i2c": [
                {
                    "bus": scan.bus_number,
                    "error": scan.error,
                    "chips": [
                        {"address": f"0x{chip.address:02x}", "names": list(chip.names), "confirmed": chip.confirmed}
                        for chip in scan.chips
                    ],
                }
                for scan in self.i2c_scans
            ],
        }


def survey(
    paths: SystemPaths = SystemPaths(),
    *,
    i2c_buses: list[int] | None = None,
    i2c_factory: BusFactory | None = None,
) -> Survey:
    """Check everything. ``i2c_buses``: scan these bus numbers (default: every ``/dev/i2c-N``)."""
    try:
        i2c, scans = i2c_findings(paths, i2c_buses, i2c_factory)
    except Exception as error:
        i2c, scans = [_probe_failed("i2c", error)], []
    findings = [
        *_guarded("board", lambda: board_findings(paths)),
        *i2c,
        *_guarded("gpio", lambda: gpio_findings(paths)),
        *_guarded("pwm", lambda: pwm_findings(paths)),
        *_guarded("audio", audio_findings),
        *_guarded("ble", lambda: ble_findings(paths)),
        *_guarded("runtime", runtime_findings),
        *_guarded("output", output_library_findings),
    ]
    return Survey(findings, scans)


def _probe_failed(area: str, error: Exception) -> Finding:
    return Finding(
        area,
        "probe",
        Status.WARN,
        f"the {area} check itself failed ({type(error).__name__}: {error})",
        "see the detail; 'sense devices --json' shows every finding",
    )


def _guarded(area: str, probe: Callable[[], list[Finding]]) -> list[Finding]:
    """A probe that raises on a half-working board becomes a finding, never a crash of devices/doctor."""
    try:
        return probe()
    except Exception as error:
        return [_probe_failed(area, error)]
