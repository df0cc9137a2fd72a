# The two commands of the README. Both set up everything they need first (scripts/setup.sh).
.PHONY: setup run test device

setup:
	@bash scripts/setup.sh

# The main job: the bundled default pack on the bundled example sound, to the simulated vest.
run: setup
	.venv/bin/sense run

# What CI runs: lint and format check (ruff), type check (mypy on edge/, settings in pyproject.toml), then the whole test suite:
# the runtime's own tests (tests/edge/) as on a device install, torch and the export extra blocked; then the rest.
# Every test runs exactly once.
test: setup
	.venv/bin/ruff check edge export benchmarks tests
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/python -m pytest -q -p tests.device_install tests/edge
	.venv/bin/python -m pytest -q --ignore=tests/edge

# On the board (Raspberry Pi OS 64-bit, Bookworm or Trixie): only the runtime, then a check of the board.
device:
	@bash scripts/device_setup.sh
	.venv/bin/sense doctor
