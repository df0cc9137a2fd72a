"""Simulators of the far side of every link, shipped with SENSE (STYLE.md #2, #17) for tests, benchmarks and
users — as gpiozero ships ``pins/mock.py``. Nothing here is imported by the runtime; import a submodule when you
need it (they load their own dependencies lazily):

- :mod:`edge.sim.chips` — register-level fakes of the I2C chips (DRV2605L, PCA9685, TCA9548A) on a fake bus;
- :mod:`edge.sim.firmware` — build and run the real firmware: the host board behind a pty, the AVR firmware in
  simavr (needs a source checkout with ``firmware/`` and the compilers scripts/setup.sh installs);
- :mod:`edge.sim.bluez_vest` — a BLE vest on a private, mocked BlueZ (needs dbus-daemon, python-dbusmock and
  dbus-fast, i.e. the ``ble`` and ``test`` extras).
"""
