"""Python <-> the real AVR firmware (ATmega328P, built with avr-gcc) running in simavr: the handshake over the
simulated UART's pty, PWM duty measured on the pins, the watchdog in simulated time, authentication."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edge.errors import LinkAuthError
from edge.link import codec
from edge.link.keys import generate_key, save_key
from edge.link.session import LinkSession
from edge.link.transports import SerialTransport
from edge.outputs import HapticFrame, open_output

from edge.sim.firmware import PWM_PINS, wait_until

ONE_PWM_STEP = 1.0 / 256.0


def test_handshake_and_pwm_duty_on_the_pins(avr_firmware_elf: Path, simulated_avr) -> None:
    avr = simulated_avr(avr_firmware_elf)
    values = [1.0, 0.5, 0.25, 0.125, 0.0, 0.75]
    with open_output(f"serial://{avr.port}?baud=115200", n_channels=6) as output:
        assert output.info is not None
        assert (output.info.name, output.info.n_channels, output.info.update_rate_hz) == ("avr", 6, 976)
        for step in range(40):  # a stream at 62.5 frames/s for 0.64 s
            output.write(HapticFrame(t_s=step * 0.016, intensities=np.asarray(values, dtype=np.float32)))
            time.sleep(0.016)
        measured = avr.channel_duties()
        assert np.allclose(measured, values, atol=ONE_PWM_STEP), dict(zip(PWM_PINS, measured))
        assert output.telemetry().duty == codec.intensities_to_u16(values)
    # close() zeroes every pin
    wait_until(lambda: avr.channel_duties() == [0.0] * 6, 3.0, "all pins low after close")


def test_watchdog_zeroes_the_pins_within_150_ms_of_simulated_time(avr_firmware_elf: Path, simulated_avr) -> None:
    avr = simulated_avr(avr_firmware_elf, "--log-rx")
    session = LinkSession(SerialTransport(avr.port))
    session.handshake()
    session.configure(codec.Config(0, 100, 65535, 2000))
    session.set_intensities([32768] * 6, 0)
    wait_until(lambda: avr.duty("D6") > 0.4, 3.0, "D6 on")
    # the host falls silent without a goodbye
    off = wait_until(
        lambda: [
            t
            for pin, duty, t in avr.pwm
            if pin == "D6"
            and duty == 0.0
            and avr.duty("D6") == 0.0
            and t > 0.0
            and any(d > 0.4 for p, d, _ in avr.pwm if p == "D6")
        ],
        3.0,
        "D6 off",
    )
    off_s = off[-1]
    last_frame_s = max(t for t in avr.rx_delimiters_s if t <= off_s)
    # "off" is the pin's last edge: up to one PWM period (1.024 ms) before the firmware disconnected the pin
    assert 0.099 <= off_s - last_frame_s <= 0.150, (last_frame_s, off_s)
    assert session.telemetry().watchdog_trips == 1
    session.close()


def test_authentication_on_the_avr(avr_firmware_elf: Path, simulated_avr, tmp_path: Path) -> None:
    avr = simulated_avr(avr_firmware_elf)
    key = generate_key()
    session = LinkSession(SerialTransport(avr.port))
    assert not session.handshake().flags & codec.FLAG_KEY_PROVISIONED
    session.provision_key(key)  # into the simulated EEPROM
    session.close()

    with pytest.raises(LinkAuthError, match="refused the key"):
        open_output(f"serial://{avr.port}?key={save_key(tmp_path / 'wrong.key', generate_key())}")
    stranger = LinkSession(SerialTransport(avr.port))
    stranger.set_intensities([65535] * 6, 0)
    assert stranger.wait_for(codec.Error).code == codec.ERROR_UNAUTHENTICATED
    stranger.close()

    with open_output(f"serial://{avr.port}?key={save_key(tmp_path / 'right.key', key)}") as output:
        output.write(HapticFrame(t_s=0.0, intensities=np.full(6, 0.5, dtype=np.float32)))
        wait_until(lambda: abs(avr.duty("D9") - 0.5) <= ONE_PWM_STEP, 3.0, "D9 at 50 % after authentication")
        telemetry = output.telemetry()
        assert (telemetry.auth_failures, telemetry.unauth_refused) == (1, 1)


def test_caps_are_enforced_on_the_pins(avr_firmware_elf: Path, simulated_avr) -> None:
    """CONFIG lowers the caps; full-scale requests then drive the pins at the cap, never above."""
    avr = simulated_avr(avr_firmware_elf)
    caps = [16384, 65535, 32768, 8192, 65535, 49152]
    with open_output(f"serial://{avr.port}", n_channels=6) as output:
        output.session.configure(codec.Config(0, 100, 65535, 2000, caps=caps))
        for step in range(30):
            output.write(HapticFrame(t_s=step * 0.016, intensities=np.ones(6, dtype=np.float32)))
            time.sleep(0.016)
        measured = avr.channel_duties()
        assert np.allclose(measured, np.asarray(caps) / 65536.0, atol=ONE_PWM_STEP), dict(zip(PWM_PINS, measured))
