"""Per-actuator tables for multi-channel rigs: ``.csv`` (a ``time_s`` column, then one column of intensities
in [0, 1] per channel, one row per frame) and ``.wav`` (16-bit PCM, one channel per actuator, sampled at the
frame rate, 0..32767 for intensity 0..1; the channel names ride in the WAV comment as
``sense-channels: F1L,F1R,…``). Both hold every frame to one step (CSV 1e-4, WAV 1/32767), rounded down so a
file never asks for more than was rendered (rig limits hold); neither has transients.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError, HapticFileError
from edge.haptic_files.track import DEFAULT_FRAME_RATE_HZ, HapticTrack, quantize_down

TIME_COLUMN = "time_s"
CSV_DECIMALS = 4
WAV_FULL_SCALE = 32767
WAV_NAMES_PREFIX = "sense-channels: "
GRID_TOLERANCE_S = 1e-3


class CSV:
    @staticmethod
    def write(track: HapticTrack, path: Path, tolerance: float = 0.0) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([TIME_COLUMN, *track.channel_names])
            scale = 10.0**CSV_DECIMALS
            for t_s, row in zip(track.t_s, quantize_down(track.intensities, scale)):
                writer.writerow([f"{t_s:.6f}", *(f"{value / scale:.{CSV_DECIMALS}f}" for value in row)])

    @staticmethod
    def read(path: Path, frame_rate_hz: float = DEFAULT_FRAME_RATE_HZ) -> HapticTrack:
        """A CSV track keeps its own frame rate (1 / the time step between rows)."""
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except (OSError, UnicodeDecodeError) as error:
            raise HapticFileError(str(path), "file", f"cannot read it ({error})") from None
        if not rows or not rows[0] or rows[0][0].strip() != TIME_COLUMN:
            raise HapticFileError(
                str(path),
                "line 1",
                f"header is {rows[0] if rows else 'missing'}",
                f"'{TIME_COLUMN}' then one column name per channel",
            )
        names = [name.strip() for name in rows[0][1:]]
        if not names or any(not name for name in names) or len(set(names)) != len(names):
            raise HapticFileError(
                str(path), "line 1", f"channel names {names}", "at least one, all non-empty and distinct"
            )
        body = [(number, row) for number, row in enumerate(rows[1:], start=2) if row]
        if not body:
            raise HapticFileError(str(path), "line 2", "no rows", "one row per frame")
        times = np.zeros(len(body))
        intensities = np.zeros((len(body), len(names)), dtype=np.float32)
        for index, (number, row) in enumerate(body):
            if len(row) != len(names) + 1:
                raise HapticFileError(
                    str(path), f"line {number}", f"has {len(row)} columns", f"{len(names) + 1} like the header"
                )
            for column, cell in enumerate(row):
                name = TIME_COLUMN if column == 0 else names[column - 1]
                try:
                    value = float(cell)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value) or (column > 0 and not 0.0 <= value <= 1.0) or value < 0.0:
                    expected = "a time in seconds >= 0" if column == 0 else "an intensity within [0, 1]"
                    raise HapticFileError(str(path), f"line {number}, column '{name}'", f"is {cell!r}", expected)
                if column == 0:
                    times[index] = value
                else:
                    intensities[index, column - 1] = value
        if times[0] > GRID_TOLERANCE_S:
            raise HapticFileError(str(path), f"line 2, column '{TIME_COLUMN}'", f"is {times[0]}", "0 (the first frame)")
        if len(times) > 1:
            step_s = float(times[1] - times[0])
            off_grid = np.flatnonzero(np.abs(times - np.arange(len(times)) * step_s) > GRID_TOLERANCE_S)
            if step_s <= 0 or off_grid.size:
                line = body[int(off_grid[0]) if off_grid.size else 1][0]
                raise HapticFileError(
                    str(path),
                    f"line {line}, column '{TIME_COLUMN}'",
                    f"is {times[int(off_grid[0]) if off_grid.size else 1]}",
                    f"rows evenly spaced in time (step {step_s} s from the first two rows)",
                )
            frame_rate_hz = 1.0 / step_s
        return HapticTrack(frame_rate_hz, tuple(names), intensities)


class WAV:
    @staticmethod
    def write(track: HapticTrack, path: Path, tolerance: float = 0.0) -> None:
        soundfile = require("soundfile", "core", "writing WAV files")
        rate = track.frame_rate_hz
        if abs(rate - round(rate)) > 1e-9:
            raise ConfigError(
                f"a WAV sample rate is a whole number of Hz; the track runs at {rate:g} frames/s (write CSV)"
            )
        samples = quantize_down(track.intensities, WAV_FULL_SCALE).astype(np.int16)
        with soundfile.SoundFile(
            str(path),
            "w",
            samplerate=int(round(rate)),
            channels=len(track.channel_names),
            subtype="PCM_16",
            format="WAV",
        ) as handle:
            handle.comment = WAV_NAMES_PREFIX + ",".join(track.channel_names)
            handle.write(samples)

    @staticmethod
    def read(path: Path, frame_rate_hz: float = DEFAULT_FRAME_RATE_HZ) -> HapticTrack:
        """A WAV track keeps its own frame rate (its sample rate)."""
        soundfile = require("soundfile", "core", "reading WAV files")
        try:
            with soundfile.SoundFile(str(path)) as handle:
                subtype, rate, comment = handle.subtype, handle.samplerate, handle.comment or ""
                samples = handle.read(dtype="int16", always_2d=True) if subtype == "PCM_16" else None
        except (RuntimeError, soundfile.LibsndfileError) as error:
            raise HapticFileError(str(path), "file", f"cannot read it as WAV ({error})") from None
        if samples is None:
            raise HapticFileError(str(path), "format", f"sample format is {subtype}", "16-bit PCM (PCM_16)")
        if samples.shape[0] == 0:
            raise HapticFileError(str(path), "data", "holds no frames", "one sample per frame and channel")
        n_channels = samples.shape[1]
        names = [f"ch{index + 1}" for index in range(n_channels)]
        if comment.startswith(WAV_NAMES_PREFIX):
            names = [name.strip() for name in comment[len(WAV_NAMES_PREFIX) :].split(",")]
            if len(names) != n_channels:
                raise HapticFileError(
                    str(path),
                    "comment",
                    f"names {len(names)} channels, the data has {n_channels}",
                    "one name per channel",
                )
        negative = np.argwhere(samples < 0)
        if negative.size:
            frame, channel = (int(v) for v in negative[0])
            raise HapticFileError(
                str(path),
                f"sample {frame}, channel '{names[channel]}'",
                f"is {int(samples[frame, channel])}",
                "0..32767 (intensity 0..1)",
            )
        return HapticTrack(float(rate), tuple(names), samples.astype(np.float32) / WAV_FULL_SCALE)
