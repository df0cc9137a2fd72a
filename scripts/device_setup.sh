#!/usr/bin/env bash
# The board install (Raspberry Pi OS 64-bit Bookworm or Trixie, or any Debian/Ubuntu arm64/x86-64): only what the
# board runs - no compilers, firmware toolchain, training data or torch (that is scripts/setup.sh, the workstation).
#
#   make device        # = bash scripts/device_setup.sh, then sense doctor
#
# Debian packages: libportaudio2 (mic and audio:// outputs) and bluez (ble:// vests); python3-venv for the venv.
# Then .venv with sense-edge[device]: onnxruntime, ai-edge-litert, pyserial, bleak, esptool, smbus2, gpiozero,
# lgpio, sounddevice - all from aarch64 wheels. On Python 3.13 (Trixie) pip has no lgpio (only an empty
# placeholder), so the venv is made with --system-site-packages and lgpio comes from python3-lgpio (preinstalled
# on Raspberry Pi OS). Safe to re-run. Set SENSE_VENV to put the venv elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SENSE_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
APT_PACKAGES=(libportaudio2 bluez python3-venv)

py_minor=$("$PYTHON" -c 'import sys; print(sys.version_info[1])')
[ "$("$PYTHON" -c 'import sys; print(sys.version_info >= (3, 11))')" = True ] || {
  echo "device setup: needs Python 3.11 or newer ($PYTHON is 3.$py_minor)" >&2; exit 1; }
if [ "$py_minor" -ge 13 ] && apt-cache show python3-lgpio >/dev/null 2>&1; then
  APT_PACKAGES+=(python3-lgpio)
fi

source scripts/apt_missing.sh
apt_install_missing "device setup" "${APT_PACKAGES[@]}"

if [ ! -x "$VENV/bin/python" ]; then
  venv_options=()
  [ "$py_minor" -ge 13 ] && venv_options+=(--system-site-packages)  # python3-lgpio (see above)
  echo "device setup: creating $VENV with $PYTHON ${venv_options[*]:-}"
  "$PYTHON" -m venv "${venv_options[@]}" "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q ".[device]"
echo "device setup: done. Try: $VENV/bin/sense run   (and 'sudo $VENV/bin/sense service install run mic' for a box)"
