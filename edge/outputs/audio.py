"""``audio://`` — audio-rate drive for voice-coil transducers and bass shakers on a sound card, or a file/array.

URLs:
- ``audio://default`` (or ``audio://default?device=USB``): the sound card through ``sounddevice`` (PortAudio);
- ``audio://file?path=out.wav``: a sound file (any format ``soundfile`` writes), for tests and offline renders;
- ``audio://array``: kept in memory (:meth:`AudioOutput.samples`), for tests.

Query parameters: ``channels`` (default: the rig's count, else 1), ``rate`` (Hz of the frames' audio, default
the device rate), ``out_rate`` (Hz of the sink, default = rate; the sound card often wants 48000; a
streaming soxr resampler converts), ``carrier_hz`` (when a frame has no audio, drive a sine at this frequency -
e.g. a shaker's resonance - with the channel intensities as amplitudes; 0 = silence), ``max`` (0..1] gain cap.

Each frame's ``audio`` ((n,) mono or (n, channels), in [-1, 1]) is multiplied by the per-channel intensity x max.
Without audio, the frame covers the time since the previous one (from ``t_s``). ``zero()`` fades to 0 over
:data:`FADE_S` (a step would thump the transducer); the sound-card sink also drops what is queued.
No backlog: the sound-card queue holds at most ``latency_s`` (default 0.1 s); older audio is dropped and counted.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError, MissingExtraError, OutputError
from edge.output_url import OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame
from edge.outputs.failsafe import zero_and_raise
from edge.stream import DEVICE_STREAM

FADE_S = 0.010
MAX_GAP_S = 0.1
"""Longest stretch one audio-less frame may fill (a pause or a jump in ``t_s`` must not write seconds)."""
DEFAULT_LATENCY_S = 0.1


class SampleSink(Protocol):
    """Where output samples go: (n_samples, n_channels) float32 blocks at the sink's rate."""

    def write(self, block: np.ndarray) -> None: ...

    def drop_pending(self) -> None: ...

    def close(self) -> None: ...


class ArraySink:
    """Keeps every block in memory."""

    def __init__(self, n_channels: int) -> None:
        self.n_channels = n_channels
        self.blocks: list[np.ndarray] = []

    def write(self, block: np.ndarray) -> None:
        self.blocks.append(block.copy())

    def drop_pending(self) -> None:
        """Nothing is pending: every block is stored at once."""

    def samples(self) -> np.ndarray:
        if not self.blocks:
            return np.zeros((0, self.n_channels), dtype=np.float32)
        return np.concatenate(self.blocks)

    def close(self) -> None:
        """Keeps the samples for inspection."""


class FileSink:
    """Writes a sound file with ``soundfile`` (format from the file extension, 32-bit float where possible)."""

    def __init__(self, path: Path, rate_hz: int, n_channels: int) -> None:
        import soundfile

        self.path = path
        try:
            self._file = soundfile.SoundFile(str(path), mode="w", samplerate=rate_hz, channels=n_channels)
        except (RuntimeError, OSError, TypeError, ValueError) as error:
            raise OutputError(f"audio file sink {path}: cannot open for writing: {error}") from error

    def write(self, block: np.ndarray) -> None:
        self._file.write(block)

    def drop_pending(self) -> None:
        """Nothing is pending: blocks are written at once."""

    def close(self) -> None:
        self._file.close()


class SampleQueue:
    """A bounded FIFO of (n, n_channels) samples between the control loop and the audio callback.

    Pushing more than ``capacity`` samples drops the oldest (no backlog, ever); pulling more than is queued
    pads with zeros (an underrun). Both are counted.
    """

    def __init__(self, capacity: int, n_channels: int) -> None:
        self.capacity = capacity
        self.n_channels = n_channels
        self._buffer = np.zeros((0, n_channels), dtype=np.float32)
        self._lock = threading.Lock()
        self.n_dropped = 0
        self.n_underrun = 0

    def push(self, block: np.ndarray) -> None:
        with self._lock:
            joined = np.concatenate([self._buffer, block.astype(np.float32, copy=False)])
            excess = joined.shape[0] - self.capacity
            if excess > 0:
                self.n_dropped += excess
                joined = joined[excess:]
            self._buffer = joined

    def pull(self, n_samples: int) -> np.ndarray:
        with self._lock:
            out = np.zeros((n_samples, self.n_channels), dtype=np.float32)
            n_available = min(n_samples, self._buffer.shape[0])
            out[:n_available] = self._buffer[:n_available]
            self._buffer = self._buffer[n_available:]
            self.n_underrun += n_samples - n_available
            return out

    def clear(self) -> None:
        with self._lock:
            self._buffer = self._buffer[:0]

    def __len__(self) -> int:
        return int(self._buffer.shape[0])


class SoundDeviceSink:
    """A PortAudio output stream fed from a :class:`SampleQueue` by its callback."""

    def __init__(self, device: str | int | None, rate_hz: int, n_channels: int, latency_s: float) -> None:
        try:
            sounddevice = require("sounddevice", "audio", "audio:// outputs")
        except OSError as error:  # the module is there but PortAudio is not
            raise MissingExtraError(
                "sounddevice",
                "audio",
                f"audio:// outputs (PortAudio: {error}; install it with 'sudo apt install libportaudio2')",
            ) from error
        self.queue = SampleQueue(max(1, round(latency_s * rate_hz)), n_channels)
        try:
            self._stream: Any = sounddevice.OutputStream(
                samplerate=rate_hz,
                channels=n_channels,
                dtype="float32",
                device=device,
                callback=self._callback,
                latency="low",
            )
            self._stream.start()
        except (sounddevice.PortAudioError, ValueError) as error:
            raise OutputError(
                f"audio device {device if device is not None else 'default'!r} cannot play {n_channels} channels at "
                f"{rate_hz} Hz: {error}. 'sense devices' lists the sound cards; pick one with ?device=NAME, set "
                "?out_rate= to a rate it supports, or use audio://file?path=out.wav"
            ) from error

    def _callback(self, outdata: np.ndarray, n_frames: int, time_info: Any, status: Any) -> None:
        outdata[:] = self.queue.pull(n_frames)

    def write(self, block: np.ndarray) -> None:
        self.queue.push(block)

    def drop_pending(self) -> None:
        self.queue.clear()

    def close(self) -> None:
        try:
            self._stream.stop()
        finally:
            self._stream.close()


class AudioOutput(ActuatorOutput):
    """``n_channels`` transducer channels on ``sink`` (which runs at ``out_rate_hz``)."""

    def __init__(
        self,
        sink: SampleSink,
        n_channels: int,
        *,
        rate_hz: int = DEVICE_STREAM.sample_rate_hz,
        out_rate_hz: int | None = None,
        carrier_hz: float = 0.0,
        max_gain: float = 1.0,
        url: str = "audio://array",
    ) -> None:
        super().__init__(url, n_channels)
        out_rate_hz = out_rate_hz or rate_hz
        if rate_hz <= 0 or out_rate_hz <= 0:
            raise ConfigError(f"output {url!r}: sample rates must be > 0, got rate={rate_hz} out_rate={out_rate_hz}")
        if not 0.0 <= carrier_hz < rate_hz / 2:
            raise ConfigError(f"output {url!r}: carrier {carrier_hz} Hz must be within 0..{rate_hz / 2:g} Hz (Nyquist)")
        if not 0.0 < max_gain <= 1.0:
            raise ConfigError(f"output {url!r}: max gain {max_gain} must be within (0, 1]")
        self.sink = sink
        self.rate_hz = rate_hz
        self.out_rate_hz = out_rate_hz
        self.carrier_hz = carrier_hz
        self.max_gain = max_gain
        self._resampler: Any = None
        if out_rate_hz != rate_hz:
            import soxr

            self._resampler = soxr.ResampleStream(rate_hz, out_rate_hz, n_channels, dtype="float32")
        self._n_samples_done = 0
        self._carrier_phase = 0.0
        self._last_sample = np.zeros(n_channels, dtype=np.float32)

    @classmethod
    def from_url(cls, url: OutputURL, n_channels: int | None) -> "AudioOutput":
        channels = url.int_param("channels", n_channels or 1)
        if n_channels is not None and channels != n_channels:
            raise ConfigError(
                f"output URL {url.url!r}: channels={channels} but the rig puts {n_channels} actuators on it"
            )
        if channels < 1:
            raise ConfigError(f"output URL {url.url!r}: channels must be >= 1")
        rate_hz = url.int_param("rate", DEVICE_STREAM.sample_rate_hz)
        out_rate_hz = url.int_param("out_rate", rate_hz)
        target = url.host or "default"
        sink: SampleSink
        if target == "array":
            sink = ArraySink(channels)
        elif target == "file":
            if not url.query.get("path"):
                raise ConfigError(f"output URL {url.url!r}: audio://file needs ?path=out.wav")
            sink = FileSink(Path(url.query["path"]), out_rate_hz, channels)
        else:
            device: str | int | None = url.query.get("device") or (None if target == "default" else target)
            if isinstance(device, str) and device.isdigit():
                device = int(device)
            latency_s = url.float_param("latency", DEFAULT_LATENCY_S)
            sink = SoundDeviceSink(device, out_rate_hz, channels, latency_s)
        try:
            return cls(
                sink,
                channels,
                rate_hz=rate_hz,
                out_rate_hz=out_rate_hz,
                carrier_hz=url.float_param("carrier_hz", 0.0),
                max_gain=url.fraction_param("max", 1.0),
                url=url.url,
            )
        except BaseException:
            sink.close()
            raise

    # --- rendering --------------------------------------------------------------------------------------------
    def _drive(self, frame: HapticFrame) -> np.ndarray:
        """(n_samples, n_channels) float32 at ``rate_hz`` for this frame."""
        gains = frame.intensities.astype(np.float32) * np.float32(self.max_gain)
        if frame.audio is not None:
            audio = np.asarray(frame.audio, dtype=np.float32)
            if audio.ndim == 1:
                audio = audio[:, None]
            if audio.ndim != 2 or audio.shape[1] not in (1, self.n_channels):
                raise ConfigError(
                    f"output {self.url!r}: frame audio has shape {np.shape(frame.audio)}, expected (n,) or (n, {self.n_channels})"
                )
            if audio.size and (not np.all(np.isfinite(audio)) or float(np.max(np.abs(audio))) > 1.0):
                raise ConfigError(f"output {self.url!r}: frame audio must be finite and within [-1, 1]")
            return audio * gains[None, :]
        n_samples = round(frame.t_s * self.rate_hz) - self._n_samples_done
        n_samples = int(np.clip(n_samples, 0, round(MAX_GAP_S * self.rate_hz)))
        if self.carrier_hz <= 0:
            return np.zeros((n_samples, self.n_channels), dtype=np.float32)
        step = 2.0 * np.pi * self.carrier_hz / self.rate_hz
        phases = self._carrier_phase + step * np.arange(n_samples)
        self._carrier_phase = float((self._carrier_phase + step * n_samples) % (2.0 * np.pi))
        return np.sin(phases).astype(np.float32)[:, None] * gains[None, :]

    def _emit(self, block: np.ndarray) -> None:
        self._n_samples_done += block.shape[0]
        if block.shape[0]:
            self._last_sample = block[-1].copy()
        out = self._resampler.resample_chunk(block) if self._resampler is not None else block
        if out.shape[0]:
            self.sink.write(np.ascontiguousarray(out, dtype=np.float32))

    def _write(self, frame: HapticFrame) -> None:
        block = self._drive(frame)
        try:
            self._emit(block)
        except (OSError, RuntimeError) as error:
            zero_and_raise(self.url, OutputError(f"audio write failed: {error}"), self._zero)

    def _zero(self) -> None:
        """Drop what is queued and fade from the last sample to exactly 0 over :data:`FADE_S`."""
        try:
            self.sink.drop_pending()
            n_fade = max(1, round(FADE_S * self.rate_hz))
            ramp = np.linspace(1.0, 0.0, n_fade, dtype=np.float32)[:, None] * self._last_sample[None, :]
            self._emit(ramp)
            if self._resampler is not None:
                tail = self._resampler.resample_chunk(np.zeros((0, self.n_channels), dtype=np.float32), last=True)
                if tail.shape[0]:
                    self.sink.write(np.ascontiguousarray(tail, dtype=np.float32))
                import soxr

                self._resampler = soxr.ResampleStream(self.rate_hz, self.out_rate_hz, self.n_channels, dtype="float32")
        except (OSError, RuntimeError) as error:
            raise OutputError(f"output {self.url}: cannot silence the audio sink: {error}") from error
        self._last_sample = np.zeros(self.n_channels, dtype=np.float32)

    def _release(self) -> None:
        self.sink.close()

    def samples(self) -> np.ndarray:
        """Everything written so far as (n_samples, n_channels) float32 (``audio://array`` only)."""
        if not isinstance(self.sink, ArraySink):
            raise ConfigError(f"output {self.url!r}: samples() needs audio://array")
        return self.sink.samples()
