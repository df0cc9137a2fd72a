#!/usr/bin/env bash
# Inside an emulated Raspberry Pi OS-like root filesystem (run by scripts/pi_check.sh, in a copy of the checkout):
# the board install as a new user does it, then every check. Each step is logged and timed; a summary line per step
# goes to out/pi_check/SUITE.tsv (step, exit code, seconds, note).
set -uo pipefail
SUITE=${1:?suite}
VENV=/opt/sense-venv
OUT=out/pi_check
mkdir -p "$OUT"
TSV="$PWD/$OUT/$SUITE.tsv"
printf 'step\texit\tseconds\tnote\n' > "$TSV"

step() {  # step NAME EXPECTED_EXIT NOTE -- COMMAND...
  local name=$1 expected=$2 note=$3; shift 4
  echo; echo "=== $name: $*"
  local started=$SECONDS
  "$@"
  local rc=$?
  local verdict=pass
  [ "$rc" -eq "$expected" ] || verdict=FAIL
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc ($verdict)" "$((SECONDS - started))" "$note" >> "$TSV"
  echo "=== $name: exit $rc ($verdict, expected $expected) in $((SECONDS - started)) s"
}

sense() { "$VENV/bin/sense" "$@"; }

echo "guest: $(. /etc/os-release; echo "$PRETTY_NAME"), $(python3 -V), $(uname -m), CPU $(grep -m1 'CPU part' /proc/cpuinfo)"
rm -rf "$VENV" /root/.cache/pip
step install 0 "scripts/device_setup.sh from an empty pip cache" -- env SENSE_VENV="$VENV" bash scripts/device_setup.sh
printf '%s\t%s\t%s\t%s\n' venv-size - - "$(du -sm "$VENV" | cut -f1) MiB" >> "$TSV"

# Which requirements came as wheels: pip's install report of the same resolution (from the cache just filled).
"$VENV/bin/python" -m pip install -q --dry-run --ignore-installed --report /tmp/report.json ".[device]" >/dev/null 2>&1
"$VENV/bin/python" - "$TSV" <<'EOF'
import json, sys
report = json.load(open("/tmp/report.json"))
rows = []
for item in report["install"]:
    meta, url = item["metadata"], item["download_info"]["url"]
    kind = "wheel " + url.rsplit("/", 1)[-1].split("-")[-1].removesuffix(".whl") if url.endswith(".whl") else "source"
    rows.append(f"{meta['name']} {meta['version']} ({kind})")
with open(sys.argv[1], "a") as tsv:
    tsv.write("dependencies\t-\t-\t" + "; ".join(sorted(rows, key=str.lower)) + "\n")
print("\n".join(rows))
EOF

step doctor 0 "proves each runtime by one hop of the bundled pack" -- sense doctor
step pack-inspect 0 "" -- sense pack inspect
for runtime in onnx litert; do
  for precision in fp32 int8; do
    step "run-$runtime-$precision" 0 "8 s example, 1 thread, Cortex-A72 CPU model" -- \
      sense run --runtime "$runtime" --precision "$precision" --threads 1 --no-drop
  done
done
step run-dsp-only 0 "" -- sense run --no-models --no-drop

# lgpio where pip has it (Python 3.11): the real library, imported from a user's folder.
if "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info >= (3, 13))'; then
  mkdir -p /tmp/user-folder && cd /tmp/user-folder
  step lgpio-plain-import 0 "bare 'import lgpio' leaves a FIFO here" -- "$VENV/bin/python" -c 'import lgpio'
  ls -la /tmp/user-folder
  rm -f /tmp/user-folder/.lgd-nfy*
  step lgpio-via-sense 0 "edge.buses.gpio.import_lgpio: no FIFO in the folder" -- "$VENV/bin/python" -c '
import os
from edge.buses.gpio import import_lgpio
import_lgpio()
left = [n for n in os.listdir(".") if n.startswith(".lgd")]
assert not left, left
print("lgpio", import_lgpio().__name__, "imported; folder still empty")'
  cd /src
fi
step gpio-doctor-lgpio 0 "lgpio line of doctor" -- bash -c "$VENV/bin/sense doctor --json | $VENV/bin/python -c 'import json,sys; print([f for f in json.load(sys.stdin)[\"findings\"] if f[\"area\"] in (\"gpio\", \"runtime\")])'"

# Torch-free runtime tests that need no firmware toolchain.
"$VENV/bin/python" -m pip install -q pytest hypothesis jsonschema
step runtime-tests 0 "tests/edge/test_pack_loader.py test_stft.py test_litert_fallback.py, tests/edge/outputs/test_lgpio.py" -- \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/edge/test_pack_loader.py tests/edge/test_stft.py \
  tests/edge/test_litert_fallback.py tests/edge/outputs/test_lgpio.py

# The tflite_runtime fallback, where it has wheels (Python <= 3.11): without ai-edge-litert, under NumPy 2 it must
# fail doctor with a fix, and `sense run --runtime litert` must give one line; with NumPy < 2 it runs.
# In a venv of its own (the board venv stays as installed, for benchmarks/bench_instructions.py).
if "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info >= (3, 12))'; then
  TFLITE_VENV=/opt/sense-tflite-venv
  rm -rf "$TFLITE_VENV" && python3 -m venv "$TFLITE_VENV"
  "$TFLITE_VENV/bin/python" -m pip install -q ".[onnx]" tflite-runtime
  step tflite-numpy2-doctor 1 "expect FAIL runtime/tflite_runtime with the fix" -- "$TFLITE_VENV/bin/sense" doctor
  step tflite-numpy2-run 1 "expect one red line, no traceback" -- "$TFLITE_VENV/bin/sense" run --runtime litert --no-drop
  "$TFLITE_VENV/bin/python" -m pip install -q 'numpy<2'
  step tflite-numpy1-doctor 0 "tflite_runtime proven with NumPy 1" -- "$TFLITE_VENV/bin/sense" doctor
  step tflite-numpy1-run 0 "" -- "$TFLITE_VENV/bin/sense" run --runtime litert --no-drop
fi
echo; echo "=== summary ($TSV)"; cat "$TSV"
