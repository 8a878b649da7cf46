"""Audio plumbing without ROS: PCM decoding/encoding, streaming resampling, capture chunking.

The constants mirror `vla_msgs/AudioChunk` (a node test checks they agree); this module does
not import the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

ENCODING_S16LE = 0
ENCODING_F32LE = 1
BYTES_PER_SAMPLE = {ENCODING_S16LE: 2, ENCODING_F32LE: 4}
ENCODING_NAMES = {ENCODING_S16LE: 'S16LE', ENCODING_F32LE: 'F32LE'}

#: The rate every recogniser and VAD in this package works at.
TARGET_RATE = 16000


class AudioFormatError(ValueError):
    """An audio chunk that cannot be interpreted (encoding, channels, rate, length)."""


def decode_pcm(data: bytes, encoding: int, channels: int) -> np.ndarray:
    """Interleaved PCM bytes -> mono float32 in [-1, 1] (channels averaged).

    Raises AudioFormatError on an unknown encoding, zero channels or a byte count that is not
    a whole number of frames. F32LE samples that are NaN/Inf are replaced by 0.
    """
    if encoding not in BYTES_PER_SAMPLE:
        raise AudioFormatError(f'unknown encoding {encoding} (S16LE=0, F32LE=1)')
    if channels < 1:
        raise AudioFormatError(f'channels must be >= 1, got {channels}')
    frame_bytes = BYTES_PER_SAMPLE[encoding] * channels
    if len(data) % frame_bytes:
        raise AudioFormatError(f'{len(data)} bytes is not a whole number of '
                               f'{channels}-channel {ENCODING_NAMES[encoding]} frames')
    if encoding == ENCODING_S16LE:
        samples = np.frombuffer(data, dtype='<i2').astype(np.float32) / 32768.0
    else:
        samples = np.frombuffer(data, dtype='<f4').astype(np.float32)
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(samples, dtype=np.float32)


def encode_pcm(samples: np.ndarray, encoding: int = ENCODING_S16LE) -> bytes:
    """float samples in [-1, 1] ((frames,) or interleaved (frames, channels)) -> PCM bytes."""
    x = np.asarray(samples, dtype=np.float32)
    if encoding == ENCODING_S16LE:
        return (np.clip(x, -1.0, 32767.0 / 32768.0) * 32768.0).round().astype('<i2').tobytes()
    if encoding == ENCODING_F32LE:
        return x.astype('<f4').tobytes()
    raise AudioFormatError(f'unknown encoding {encoding} (S16LE=0, F32LE=1)')


class StreamResampler:
    """Chunk-by-chunk resampling with state, so the output does not depend on chunk sizes.

    Downsampling first low-passes (8th-order Butterworth at 0.45 x the output rate, filter
    state carried between chunks) to keep aliases out of the speech band, then interpolates
    linearly at exact output instants (integer bookkeeping: no drift over hours). Good enough
    for VAD and Whisper, which only look below 8 kHz.
    """

    def __init__(self, in_rate: int, out_rate: int = TARGET_RATE) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise AudioFormatError(f'sample rates must be positive, got {in_rate} -> {out_rate}')
        self.in_rate = int(in_rate)
        self.out_rate = int(out_rate)
        self._sos: Optional[np.ndarray] = None
        if self.in_rate > self.out_rate:
            from scipy.signal import butter  # lazy: only needed when downsampling

            self._sos = butter(8, 0.45 * self.out_rate, fs=self.in_rate, output='sos')
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a new stream starts at output sample 0)."""
        self._zi = None if self._sos is None else np.zeros((self._sos.shape[0], 2))
        self._consumed = 0       # input samples seen
        self._produced = 0       # output samples emitted
        self._last = 0.0         # last (filtered) input sample of the previous chunk

    def process(self, x: np.ndarray) -> np.ndarray:
        """Resample the next chunk of a mono stream; returns float32."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if self.in_rate == self.out_rate:
            return x.astype(np.float32)
        if x.size == 0:
            return np.zeros(0, dtype=np.float32)
        if self._sos is not None:
            from scipy.signal import sosfilt

            x, self._zi = sosfilt(self._sos, x, zi=self._zi)
        n = x.size
        # Output sample m sits at input position m * in / out; interpolate every one that
        # falls inside [consumed - 1, consumed + n - 1] (the previous chunk's last sample
        # bridges the boundary).
        last_input = self._consumed + n - 1
        m_end = (last_input * self.out_rate) // self.in_rate + 1
        m = np.arange(self._produced, m_end, dtype=np.int64)
        pos = (m * self.in_rate).astype(np.float64) / self.out_rate - (self._consumed - 1)
        extended = np.concatenate(([self._last], x))
        out = np.interp(pos, np.arange(n + 1, dtype=np.float64), extended)
        self._produced = int(m_end) if m.size else self._produced
        self._consumed += n
        self._last = float(x[-1])
        return out.astype(np.float32)


@dataclass(frozen=True)
class CaptureChunk:
    """A fixed-size block of interleaved PCM with the capture time of its first frame."""

    data: bytes
    frames: int
    first_frame: int     # index of the first frame since the stream started
    stamp: float         # s (same clock as the block times given to `push`)


class AudioChunker:
    """Cut capture blocks of any size into chunks of exactly `chunk_frames` frames.

    Stamps are sample-accurate (`t0 + frame / rate`), re-anchored to the block times when
    they drift by more than `max_drift` s (a driver overflow or dropped blocks), so
    timestamps never run away from the wall clock.
    """

    def __init__(self, sample_rate: int, channels: int, chunk_frames: int,
                 encoding: int = ENCODING_S16LE, max_drift: float = 0.2) -> None:
        if sample_rate <= 0 or channels < 1 or chunk_frames < 1:
            raise AudioFormatError(f'bad chunker format: rate={sample_rate} channels={channels} '
                                   f'chunk_frames={chunk_frames}')
        if encoding not in BYTES_PER_SAMPLE:
            raise AudioFormatError(f'unknown encoding {encoding}')
        self.sample_rate = sample_rate
        self.channels = channels
        self.chunk_frames = chunk_frames
        self.encoding = encoding
        self.frame_bytes = BYTES_PER_SAMPLE[encoding] * channels
        self.max_drift = max_drift
        self._pending = bytearray()
        self._frames_in = 0          # frames received so far
        self._frames_out = 0         # frames emitted so far
        self._t0: Optional[float] = None
        self.reanchors = 0

    def push(self, block: bytes, block_time: float) -> List[CaptureChunk]:
        """Add a capture block whose first frame was captured at `block_time` (s)."""
        if len(block) % self.frame_bytes:
            raise AudioFormatError(f'block of {len(block)} bytes is not whole '
                                   f'{self.frame_bytes}-byte frames')
        expected = None if self._t0 is None else self._t0 + self._frames_in / self.sample_rate
        if expected is None:
            self._t0 = block_time
        elif abs(block_time - expected) > self.max_drift:
            self._t0 = block_time - self._frames_in / self.sample_rate
            self.reanchors += 1
        self._pending += block
        self._frames_in += len(block) // self.frame_bytes
        chunk_bytes = self.chunk_frames * self.frame_bytes
        out: List[CaptureChunk] = []
        while len(self._pending) >= chunk_bytes:
            data = bytes(self._pending[:chunk_bytes])
            del self._pending[:chunk_bytes]
            assert self._t0 is not None
            out.append(CaptureChunk(data, self.chunk_frames, self._frames_out,
                                    self._t0 + self._frames_out / self.sample_rate))
            self._frames_out += self.chunk_frames
        return out

    def flush(self) -> List[CaptureChunk]:
        """Emit what is left as a shorter final chunk (end of capture)."""
        if not self._pending or self._t0 is None:
            return []
        frames = len(self._pending) // self.frame_bytes
        chunk = CaptureChunk(bytes(self._pending), frames, self._frames_out,
                             self._t0 + self._frames_out / self.sample_rate)
        self._pending.clear()
        self._frames_out += frames
        return [chunk]
