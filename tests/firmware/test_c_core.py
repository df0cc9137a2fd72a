"""The C unit tests of the firmware core and a short bounded libFuzzer run, invoked from pytest so that
`make test` runs them. Both read the golden vectors / seeds from firmware/vectors."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from edge.sim.firmware import BUILD, FIRMWARE, make, require_tools

FUZZ_SECONDS = 5


def test_c_unit_tests_pass() -> None:
    require_tools("gcc")
    result = make("test")
    match = re.search(r"(\d+) checks, (\d+) failures", result.stdout)
    assert match, result.stdout[-2000:]
    assert int(match.group(1)) > 150 and int(match.group(2)) == 0


def test_core_builds_warning_free_as_c99_with_the_board_sizes_of_the_avr() -> None:
    """The AVR build uses SENSE_MAX_CHANNELS=6 / SENSE_MAX_FRAME=80; the core must also build that way on the
    host with every warning as an error."""
    require_tools("gcc")
    sources = sorted(str(p) for p in (FIRMWARE / "core").glob("*.c"))
    result = subprocess.run(
        [
            "gcc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-Wshadow",
            "-Wconversion",
            "-DSENSE_MAX_CHANNELS=6",
            "-DSENSE_MAX_FRAME=80",
            "-fsyntax-only",
            *sources,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_core_has_no_hardware_headers() -> None:
    for path in (FIRMWARE / "core").glob("*.[ch]"):
        includes = re.findall(r"#include\s*[<\"]([^>\"]+)[>\"]", path.read_text())
        for include in includes:
            assert include.startswith("sense_") or include in {"stdint.h", "stddef.h", "string.h"}, (path, include)


@pytest.mark.parametrize("sizes", ["host", "avr"])
def test_bounded_libfuzzer_run_finds_no_crash(sizes: str, tmp_path: Path) -> None:
    """The parser and every message handler under libFuzzer (ASan + UBSan), with the host's buffer sizes and with
    the AVR's (6 channels, 80-byte frames), seeded with the golden frames."""
    require_tools("clang")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for case in json.loads((FIRMWARE / "vectors" / "frames.json").read_text()):
        wire = bytes.fromhex(case["wire_hex"])
        (seeds / case["name"]).write_bytes(b"\x02" + wire)  # first byte: bit 0 key, bit 1 trusted link
        (seeds / (case["name"] + "_keyed_untrusted")).write_bytes(b"\x01" + wire * 2)
    corpus = tmp_path / "corpus"
    result = make(
        "fuzz", f"FUZZ_SIZES={sizes}", f"FUZZ_SECONDS={FUZZ_SECONDS}", f"FUZZ_CORPUS={corpus} {seeds}", timeout_s=180
    )
    output = result.stdout + result.stderr
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    assert runs and int(runs.group(1)) > 1000, output[-2000:]
    assert "ERROR: AddressSanitizer" not in output and "deadly signal" not in output
    assert (BUILD / "fuzz" / f"fuzz_parser_{sizes}").exists()
