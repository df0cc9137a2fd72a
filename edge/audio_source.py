"""Audio sources, all delivering 16 kHz mono float32 blocks: sound files (any rate/format libsndfile reads,
resampled), raw PCM on stdin, and a microphone through ``sounddevice``.

Every source is an iterator of (n_samples,) float32 blocks in [-1, 1] (clipped input stays clipped; it is
the renderer's job to compress). Samples that are not finite are an error that names the file and position.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from edge.stream import DEVICE_STREAM
from edge._lazy import require
from edge.errors import AudioInputError

PCM_DTYPES: dict[str, np.dtype[Any]] = {"s16le": np.dtype("<i2"), "s32le": np.dtype("<i4"), "f32le": np.dtype("<f4")}
"""Raw PCM sample formats accepted on stdin, named like ffmpeg/sox do."""


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(n_samples,) or (n_samples, n_channels) -> (n_samples,) float32 by averaging channels."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples


def resample(samples: np.ndarray, rate_in_hz: int, rate_out_hz: int = DEVICE_STREAM.sample_rate_hz) -> np.ndarray:
    """High-quality resampling (soxr) of a (n_samples,) float32 signal; identity when rates match."""
    if rate_in_hz == rate_out_hz:
        return np.asarray(samples, dtype=np.float32)
    soxr = require("soxr", "core", "resampling audio")
    return np.asarray(soxr.resample(samples, rate_in_hz, rate_out_hz, quality="HQ"), dtype=np.float32)


def check_finite(
    samples: np.ndarray, where: str, offset_samples: int = 0, rate_hz: int = DEVICE_STREAM.sample_rate_hz
) -> None:
    """Raise :class:`AudioInputError` naming ``where`` and the first non-finite sample's position."""
    bad = np.flatnonzero(~np.isfinite(samples))
    if bad.size:
        index = offset_samples + int(bad[0])
        raise AudioInputError(
            f"{where}: sample {index} (t = {index / rate_hz:.3f} s) is {samples.flat[bad[0]]}; "
            f"expected finite audio samples ({bad.size} non-finite in this block)"
        )


FILE_READ_FRAMES = 16384
"""Frames decoded per read of a sound file (0.37 s at 44.1 kHz): memory stays bounded however long the file is."""


def read_audio_file(path: str | Path) -> np.ndarray:
    """Read a whole sound file as (n_samples,) float32 mono at 16 kHz (the same samples :func:`file_source` streams).

    Raises :class:`AudioInputError` for a missing/unreadable/empty file or non-finite samples.
    """
    blocks = list(decoded_blocks(path))
    if not blocks:
        raise AudioInputError(f"{path}: the file holds no samples; expected at least one audio frame")
    return np.concatenate(blocks)


def decoded_blocks(path: str | Path, read_frames: int = FILE_READ_FRAMES) -> Iterator[np.ndarray]:
    """A sound file decoded ``read_frames`` at a time, mixed to mono and resampled to 16 kHz with soxr's streaming
    resampler (which gives exactly what resampling the whole file gives). The file is opened and checked at once
    (missing, unreadable or empty: :class:`AudioInputError`); blocks come as they are pulled."""
    soundfile = require("soundfile", "core", "reading sound files")
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"{path}: no such sound file")
    try:
        sound = soundfile.SoundFile(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise AudioInputError(
            f"{path}: cannot read as a sound file ({error}); expected WAV, FLAC, OGG or another format libsndfile reads"
        ) from None
    if sound.frames == 0:
        sound.close()
        raise AudioInputError(f"{path}: the file holds no samples; expected at least one audio frame")
    return _decode(sound, str(path), read_frames)


def _decode(sound: Any, where: str, read_frames: int) -> Iterator[np.ndarray]:
    rate_hz = int(sound.samplerate)
    resampler = None
    if rate_hz != DEVICE_STREAM.sample_rate_hz:
        soxr = require("soxr", "core", "resampling audio")
        resampler = soxr.ResampleStream(rate_hz, DEVICE_STREAM.sample_rate_hz, 1, dtype="float32", quality="HQ")
    offset = 0
    with sound:
        while True:
            samples = sound.read(read_frames, dtype="float32", always_2d=True)
            last = samples.shape[0] == 0
            check_finite(samples, where, offset, rate_hz)
            offset += samples.shape[0]
            mono = to_mono(samples)
            if resampler is not None:
                mono = np.asarray(resampler.resample_chunk(mono, last=last), dtype=np.float32)
            if mono.size:
                yield mono
            if last:
                return


def blocks_of(chunks: Iterable[np.ndarray], n_block_samples: int) -> Iterator[np.ndarray]:
    """Cut a stream of chunks of any length into consecutive blocks of ``n_block_samples`` (the last may be
    shorter); holds at most one chunk plus one block."""
    pending = np.zeros(0, dtype=np.float32)
    for chunk in chunks:
        pending = np.concatenate([pending, chunk]) if pending.size else chunk
        n_whole = len(pending) // n_block_samples * n_block_samples
        for start in range(0, n_whole, n_block_samples):
            yield pending[start : start + n_block_samples]
        pending = pending[n_whole:]
    if pending.size:
        yield pending


def file_source(path: str | Path, n_block_samples: int, read_frames: int = FILE_READ_FRAMES) -> Iterator[np.ndarray]:
    """Blocks of a sound file at 16 kHz mono, decoded and resampled as they are pulled (constant memory)."""
    return blocks_of(decoded_blocks(path, read_frames), n_block_samples)


def pcm_stream_source(
    stream: BinaryIO,
    rate_hz: int,
    n_channels: int = 1,
    sample_format: str = "s16le",
    n_block_samples: int = DEVICE_STREAM.hop,
    where: str = "stdin",
) -> Iterator[np.ndarray]:
    """Blocks of raw interleaved PCM read from a binary stream (e.g. ``arecord … | sense run -``).

    Blocks are resampled on the fly with soxr's streaming resampler so streaming equals reading it whole.
    """
    check_pcm_layout(rate_hz, n_channels, sample_format, where)
    return _pcm_blocks(stream, rate_hz, n_channels, sample_format, n_block_samples, where)


def check_pcm_layout(rate_hz: int, n_channels: int, sample_format: str, where: str) -> None:
    """Raise :class:`AudioInputError` for a raw PCM layout that cannot be read (checked before any output opens)."""
    if sample_format not in PCM_DTYPES:
        raise AudioInputError(f"{where}: sample format {sample_format!r} unknown; expected one of {sorted(PCM_DTYPES)}")
    if rate_hz <= 0:
        raise AudioInputError(f"{where}: sample rate {rate_hz} Hz; expected a positive rate (e.g. --stdin-rate 48000)")
    if n_channels <= 0:
        raise AudioInputError(f"{where}: {n_channels} channels; expected at least 1 (e.g. --stdin-channels 2)")


def _pcm_blocks(
    stream: BinaryIO, rate_hz: int, n_channels: int, sample_format: str, n_block_samples: int, where: str
) -> Iterator[np.ndarray]:
    dtype = PCM_DTYPES[sample_format]
    bytes_per_frame = dtype.itemsize * n_channels
    scale = 1.0 if dtype.kind == "f" else float(2 ** (8 * dtype.itemsize - 1))
    resampler = None
    if rate_hz != DEVICE_STREAM.sample_rate_hz:
        soxr = require("soxr", "core", "resampling audio")
        resampler = soxr.ResampleStream(rate_hz, DEVICE_STREAM.sample_rate_hz, 1, dtype="float32", quality="HQ")
    n_read_bytes = max(1, round(n_block_samples * rate_hz / DEVICE_STREAM.sample_rate_hz)) * bytes_per_frame
    leftover = b""
    offset = 0
    while True:
        chunk = stream.read(n_read_bytes)
        data = leftover + (chunk or b"")
        n_whole = len(data) // bytes_per_frame * bytes_per_frame
        data, leftover = data[:n_whole], data[n_whole:]
        samples = np.frombuffer(data, dtype=dtype).reshape(-1, n_channels).astype(np.float32) / scale
        check_finite(samples, where, offset, rate_hz)
        offset += samples.shape[0]
        mono = to_mono(samples)
        last = not chunk
        if last and offset == 0:
            raise AudioInputError(
                f"{where}: no audio arrived (the input ended before the first sample); expected raw "
                f"{sample_format} PCM at {rate_hz} Hz, {n_channels} channel(s)"
            )
        if resampler is not None:
            mono = resampler.resample_chunk(mono, last=last)
        if mono.size:
            yield np.asarray(mono, dtype=np.float32)
        if last:
            return


def paced(
    blocks: Iterable[np.ndarray],
    rate_hz: int = DEVICE_STREAM.sample_rate_hz,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[np.ndarray]:
    """Release ``blocks`` at the audio's real-time pace: each block no earlier than the audio time of its first
    sample after the first block. Release times come from the sample count and one start time on a monotonic
    clock (not from summed sleeps), so the pace does not drift; a consumer that fell behind gets blocks at once
    until it has caught up."""
    started_s: float | None = None
    n_released = 0
    for block in blocks:
        if started_s is None:
            started_s = clock()
        else:
            delay_s = started_s + n_released / rate_hz - clock()
            if delay_s > 0:
                sleep(delay_s)
        yield block
        n_released += len(block)


def stdin_source(rate_hz: int, n_channels: int, sample_format: str, n_block_samples: int) -> Iterator[np.ndarray]:
    """Raw PCM from standard input."""
    return pcm_stream_source(sys.stdin.buffer, rate_hz, n_channels, sample_format, n_block_samples)


def microphone_source(
    device: str | int | None, n_block_samples: int, seconds: float | None = None
) -> Iterator[np.ndarray]:
    """Blocks from a microphone/line-in through sounddevice, captured at 16 kHz mono (PortAudio resamples).

    Runs until ``seconds`` of audio were delivered, or forever when None (stop with Ctrl-C).
    """
    sounddevice = require("sounddevice", "audio", "recording from a microphone")
    n_total = None if seconds is None else int(seconds * DEVICE_STREAM.sample_rate_hz)
    n_done = 0
    try:
        opened = sounddevice.InputStream(
            samplerate=DEVICE_STREAM.sample_rate_hz,
            channels=1,
            dtype="float32",
            blocksize=n_block_samples,
            device=device,
        )
    except (sounddevice.PortAudioError, ValueError) as error:
        raise AudioInputError(
            f"microphone {device if device is not None else '(default)'}: cannot open it ({error}); "
            "expected a sound card with an input: see `sense devices`"
        ) from None
    with opened as stream:
        while n_total is None or n_done < n_total:
            block, _overflowed = stream.read(n_block_samples)
            n_done += len(block)
            yield to_mono(block)
