"""``gpio://`` on gpiozero's MockFactory with MockPWMPin (software PWM) and on a fake PWM sysfs tree (hardware)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.buses.gpio import ENV_GPIO_BACKEND, backend_name, is_raspberry_pi_5, resolve_pin_factory
from edge.errors import ConfigError, OutputError
from edge.outputs import HapticFrame, open_output
from edge.outputs.gpio import GpioOutput


def frame(*intensities: float) -> HapticFrame:
    return HapticFrame(t_s=0.0, intensities=np.array(intensities, dtype=np.float32))


class FlakyPWMPin(MockPWMPin):
    """A mock pin whose hardware write can be made to fail (the far side of the link misbehaving)."""

    failing = False

    def _set_state(self, value: float) -> None:
        if FlakyPWMPin.failing and value > 0:
            raise OSError(5, "Input/output error")
        super()._set_state(value)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.close()


@pytest.fixture
def mock_gpio_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockFactory]:
    """gpiozero's mock backend selected through the environment, as a user would on a desk without a Pi."""
    monkeypatch.setenv(ENV_GPIO_BACKEND, "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    shared = resolve_pin_factory()
    yield shared
    leaked = [pin for pin in (12, 13, 18, 19) if shared._reservations.get(shared.pin(pin))]
    assert not leaked, f"pins left reserved: {leaked}"


def test_duties_and_frequency_reach_the_pins(factory: MockFactory) -> None:
    with GpioOutput([12, 13, 18], frequency_hz=250.0, max_duty=0.8, pin_factory=factory) as output:
        output.write(frame(0.25, 1.0, 0.0))
        assert [factory.pin(p).state for p in (12, 13, 18)] == pytest.approx([0.2, 0.8, 0.0])
        assert factory.pin(12).frequency == 250.0
    assert [factory.pin(p).state for p in (12, 13, 18)] == [0, 0, 0]
    assert factory.pin(12).frequency is None  # released


def test_close_zeroes_first_and_is_idempotent(factory: MockFactory) -> None:
    output = GpioOutput([12], pin_factory=factory)
    output.write(frame(0.7))
    factory.pin(12).clear_states()
    output.close()
    output.close()
    states = [s.state for s in factory.pin(12).states]
    assert states[0] == pytest.approx(0.7)  # clear_states keeps the current state first
    assert len(states) >= 2 and all(state == 0 for state in states[1:])


def test_a_pin_in_use_fails_early_with_a_clear_error(factory: MockFactory) -> None:
    with GpioOutput([12, 13], pin_factory=factory):
        with pytest.raises(ConfigError, match="GPIO13 is already in use"):
            GpioOutput([13], pin_factory=factory)
        assert factory.pin(13).frequency is not None  # the first output still owns it
    GpioOutput([13], pin_factory=factory).close()


def test_open_output_resolves_the_backend_from_the_environment_once(mock_gpio_env: MockFactory) -> None:
    assert backend_name() == "mock"
    with open_output("gpio://?pins=12,13&freq=200") as output:
        assert resolve_pin_factory() is mock_gpio_env
        output.write(frame(0.5, 0.1))
        assert mock_gpio_env.pin(12).state == 0.5 and mock_gpio_env.pin(13).frequency == 200
        with pytest.raises(ConfigError, match="GPIO12 is already in use"):
            open_output("gpio://?pins=12")
    assert mock_gpio_env.pin(12).state == 0


def test_a_failing_pin_zeroes_every_pin_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = MockFactory(pin_class=FlakyPWMPin)
    monkeypatch.setattr(FlakyPWMPin, "failing", False)
    with GpioOutput([12, 13], pin_factory=factory) as output:
        output.write(frame(0.5, 0.5))
        monkeypatch.setattr(FlakyPWMPin, "failing", True)
        with pytest.raises(OutputError, match="GPIO write failed.*switched off"):
            output.write(frame(0.6, 0.6))
        assert [factory.pin(p).state for p in (12, 13)] == [0, 0]
    factory.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gpio://?pins=12&freq=20000", "software PWM frequency 20000.0 Hz is outside 1..10000 Hz"),
        ("gpio://?pins=12&freq=0.5", "outside 1..10000 Hz"),
        ("gpio://?pins=40", "outside BCM 0..27"),
        ("gpio://?pins=12,12", "repeat"),
        ("gpio://?freq=200", "needs pins="),
        ("gpio://?pins=12&max=0", "within \\(0, 1\\]"),
        ("gpio://?pins=12&pwm=dma", "expected 'software' or 'hardware'"),
        ("gpio://?pins=12&pwm=hardware&freq=2000000", "hardware PWM frequency .* outside 1..1e\\+06 Hz"),
    ],
)
def test_bad_urls_and_out_of_limit_values_are_refused(mock_gpio_env: MockFactory, url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_output(url)


def make_pwm_chip(root: Path, exported: tuple[int, ...]) -> Path:
    chip = root / "pwmchip0"
    chip.mkdir()
    (chip / "export").write_text("")
    for channel in exported:
        (chip / f"pwm{channel}").mkdir()
    return chip


def read_channel(chip: Path, channel: int) -> tuple[int, int, int]:
    directory = chip / f"pwm{channel}"
    return tuple(int((directory / name).read_text()) for name in ("period", "duty_cycle", "enable"))  # type: ignore[return-value]


def test_hardware_pwm_writes_period_duty_and_enable_in_nanoseconds(tmp_path: Path) -> None:
    chip = make_pwm_chip(tmp_path, exported=(0, 1))
    with open_output(f"gpio://?pins=12,13&pwm=hardware&chip={chip}&freq=1000") as output:
        output.write(frame(0.25, 1.0))
        # GPIO12 -> channel 0 and GPIO13 -> channel 1 on every Pi generation
        assert read_channel(chip, 0) == (1_000_000, 250_000, 1)
        assert read_channel(chip, 1) == (1_000_000, 1_000_000, 1)
    assert read_channel(chip, 0)[1:] == (0, 0) and read_channel(chip, 1)[1:] == (0, 0)


def test_hardware_pins_sharing_a_pi4_channel_cannot_both_be_used(tmp_path: Path) -> None:
    chip = make_pwm_chip(tmp_path, exported=(0, 1, 2, 3))
    with pytest.raises(ConfigError, match="GPIO18: hardware PWM channel .*pwm0 is already used by GPIO12"):
        GpioOutput([12, 18], hardware_chip_dir=chip, pi5_channel_map=False)
    with GpioOutput([12, 18], hardware_chip_dir=chip, pi5_channel_map=True) as output:
        output.write(frame(0.5, 0.1))
        assert read_channel(chip, 2) == (5_000_000, 500_000, 1)
    with pytest.raises(ConfigError, match="GPIO5 has no hardware PWM"):
        GpioOutput([5], hardware_chip_dir=chip, pi5_channel_map=False)


def test_hardware_pwm_without_the_overlay_says_how_to_enable_it(tmp_path: Path) -> None:
    chip = make_pwm_chip(tmp_path, exported=())
    with pytest.raises(OutputError, match="dtoverlay=pwm-2chan"):
        GpioOutput([13], hardware_chip_dir=chip, pi5_channel_map=False)
    assert (chip / "export").read_text() == "1\n"  # it asked the kernel to export channel 1


def test_a_pi5_is_recognised_from_the_device_tree_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert is_raspberry_pi_5(model)
    monkeypatch.delenv(ENV_GPIO_BACKEND, raising=False)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    assert backend_name(model) == "lgpio"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert not is_raspberry_pi_5(model) and backend_name(model) is None
