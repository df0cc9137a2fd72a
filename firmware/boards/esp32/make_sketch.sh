#!/usr/bin/env bash
# Assemble a self-contained Arduino sketch for the esp32 board: the adapter (sense_esp32.ino) plus a copy of the
# portable core (firmware/core/*.c, *.h) in one folder, because the Arduino build only compiles files inside the
# sketch folder. Usage: firmware/boards/esp32/make_sketch.sh [OUT_DIR]   (default: firmware/build/esp32)
# Then:  arduino-cli compile --fqbn esp32:esp32:esp32 OUT_DIR/sense_esp32
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
core="$here/../../core"
out="${1:-$here/../../build/esp32}"
sketch="$out/sense_esp32"
mkdir -p "$sketch"
cp "$here/sense_esp32/sense_esp32.ino" "$sketch/"
cp "$core"/*.c "$core"/*.h "$sketch/"
echo "$sketch"
