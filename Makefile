# The two commands of the README. Both set up everything they need first (scripts/setup.sh).
.PHONY: setup run test device

setup:
	@bash scripts/setup.sh

# The main job: the bundled default pack on the bundled example sound, to the simulated vest.
run: setup
	.venv/bin/sense run

# The whole test suite (what CI runs).
test: setup
	.venv/bin/python -m pytest -q

# On the board (Raspberry Pi OS 64-bit, Bookworm or Trixie): only the runtime, then a check of the board.
device:
	@bash scripts/device_setup.sh
	.venv/bin/sense doctor
