"""``sense devices`` / ``sense doctor`` and the survey behind them, with the fake I2C board and fake /dev and /sys
trees (the far side: the kernel's device nodes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.devices import Status, SystemPaths, gpio_findings, list_i2c_buses, pwm_findings, ble_findings, scan_i2c_bus
from tests.edge.outputs.conftest import Board, build_fake_board

runner = CliRunner()


def make_tree(
    root: Path,
    *,
    i2c: tuple[int, ...] = (),
    gpiochips: int = 0,
    pwmchips: int = 0,
    hci: int = 0,
    model: str | None = None,
) -> SystemPaths:
    paths = SystemPaths(dev=root / "dev", sys=root / "sys", device_tree_model=root / "model")
    paths.dev.mkdir(parents=True)
    for number in i2c:
        (paths.dev / f"i2c-{number}").touch()
    for number in range(gpiochips):
        (paths.dev / f"gpiochip{number}").touch()
    for number in range(pwmchips):
        chip = paths.sys / "class" / "pwm" / f"pwmchip{number}"
        chip.mkdir(parents=True)
        (chip / "npwm").write_text("4\n")
    for number in range(hci):
        (paths.sys / "class" / "bluetooth" / f"hci{number}").mkdir(parents=True)
    if model:
        paths.device_tree_model.write_bytes(model.encode() + b"\x00")
    return paths


def test_the_scan_finds_the_chips_on_the_bus_and_behind_the_selected_mux_channel() -> None:
    board = build_fake_board()
    assert board.wire is not None and board.mux is not None
    scan = scan_i2c_bus(1, board.wire.open)
    assert [chip.address for chip in scan.chips] == [0x40, 0x70]
    assert "PCA9685" in scan.chips[0].describe() and "TCA9548A" in scan.chips[1].describe()
    board.mux.control = 1 << 2
    scan = scan_i2c_bus(1, board.wire.open)
    assert [chip.address for chip in scan.chips] == [0x40, 0x5A, 0x70]
    assert scan.chips[1].describe() == "DRV2605L haptic driver (device id 7)"
    probes = {
        t.address: (t.written, t.n_read)
        for t in board.wire.log
        if not t.written or t.n_read == 1 and len(t.written) == 0
    }
    assert probes[0x40] == (b"", 0)  # quick write
    assert probes[0x5A] == (b"", 1)  # read probe in 0x50..0x5f, as i2cdetect does


def test_a_bus_that_cannot_open_is_reported_not_raised() -> None:
    board = build_fake_board()

    def no_permission(bus_number: int):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", f"/dev/i2c-{bus_number}")

    scan = scan_i2c_bus(1, no_permission)
    assert scan.chips == [] and "Permission denied" in scan.error
    assert board.wire is not None and scan_i2c_bus(1, board.wire.open).error == ""


def test_device_nodes_and_sysfs_are_listed(tmp_path: Path) -> None:
    paths = make_tree(tmp_path, i2c=(1, 20), gpiochips=2, pwmchips=1, hci=1, model="Raspberry Pi 4 Model B Rev 1.4")
    (paths.dev / "i2c-x").touch()
    assert list_i2c_buses(paths) == [1, 20]
    assert gpio_findings(paths)[0].detail == "gpiochip0, gpiochip1"
    assert pwm_findings(paths)[0].detail == "pwmchip0 (4 channels)"
    assert ble_findings(paths)[0].status is Status.OK


def test_missing_things_come_with_a_fix(tmp_path: Path) -> None:
    paths = make_tree(tmp_path, gpiochips=1, model="Raspberry Pi 5 Model B Rev 1.0")
    assert "dtoverlay=pwm-2chan" in pwm_findings(paths)[0].fix
    assert "bluez" in ble_findings(paths)[0].fix
    pi5 = gpio_findings(paths)
    if "lgpio" not in sys.modules:
        try:
            import lgpio  # noqa: F401
        except ImportError:
            assert pi5[-1].name == "lgpio" and "python3-lgpio" in pi5[-1].fix


def test_sense_devices_lists_the_chips_on_a_bus(fake_board: Board) -> None:
    result = runner.invoke(app, ["devices", "--i2c-bus", "1"])
    assert result.exit_code == 0, result.output
    assert "0x40" in result.output and "PCA9685" in result.output and "TCA9548A" in result.output


def test_sense_devices_json(fake_board: Board) -> None:
    result = runner.invoke(app, ["devices", "--i2c-bus", "1", "--i2c-bus", "7", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["i2c"][0]["bus"] == 1
    assert [chip["address"] for chip in data["i2c"][0]["chips"]] == ["0x40", "0x70"]
    assert "i2c-7" in data["i2c"][1]["error"]
    names = {(f["area"], f["name"]) for f in data["findings"]}
    assert {("runtime", "onnxruntime"), ("output", "smbus2"), ("audio", "sound cards"), ("ble", "Bluetooth")} <= names


def test_sense_doctor_passes_with_a_runtime_and_fails_with_a_fix_without_one(
    fake_board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["doctor", "--i2c-bus", "1"])
    assert result.exit_code == 0, result.output
    assert "ready" in result.output
    for module in ("onnxruntime", "ai_edge_litert", "tflite_runtime"):
        monkeypatch.setitem(sys.modules, module, None)  # as on a board where none is installed
    result = runner.invoke(app, ["doctor", "--i2c-bus", "1"])
    assert result.exit_code == 1
    assert "FAIL runtime/onnxruntime: no inference runtime runs" in result.output
    assert "pip install 'sense-edge[onnx]'" in result.output


def test_sense_calibrate_prints_the_url_to_store_and_the_results_apply_from_it(fake_board: Board) -> None:
    from edge.sim.chips.drv2605 import FakeActuator

    fake_board.drvs[1].actuator = FakeActuator(compensation=0x10, back_emf=0x99, back_emf_gain=1, resonance_hz=160.0)
    result = runner.invoke(app, ["calibrate", "drv2605://1/0x5a?mux=0x70&channels=0,1&calibrate=1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["url"] == "drv2605://1/0x5a?mux=0x70&channels=0,1&cal=13-138-2,16-153-1"
    assert report["results"][1]["resonance_hz"] == pytest.approx(160.0, rel=0.01)
    assert [drv.n_calibrations for drv in fake_board.drvs[:2]] == [1, 1]
    from edge.outputs import open_output

    with open_output(report["url"]):
        assert fake_board.drvs[1].registers[0x19] == 0x99
    assert [drv.n_calibrations for drv in fake_board.drvs[:2]] == [1, 1]


def test_sense_calibrate_refuses_outputs_without_calibration(fake_board: Board) -> None:
    result = runner.invoke(app, ["calibrate", "pca9685://1/0x40"])
    assert result.exit_code != 0
    assert "only drv2605:// outputs" in str(result.exception)
