"""Voice-activity probabilities -> utterances (pure; the VAD model is injected).

`UtteranceSegmenter.feed(samples)` takes 16 kHz mono float32 audio in chunks of any size, asks
the injected `vad(frame) -> probability` for every `frame_samples` frame, and returns the
utterances that ended in this chunk. The rules (the same hysteresis as Silero's own iterator):

- speech starts on a frame with p >= threshold;
- once in speech, a frame with p < neg_threshold (default threshold - 0.15) starts a tentative
  end; a frame with p >= threshold cancels it; the utterance ends when the tentative end is
  `min_silence_ms` old (the end is the last speech frame);
- an utterance reaching `max_utterance_s` is cut there (reason 'max_length') and speech goes
  on as a new utterance;
- utterances with less than `min_speech_ms` of speech are dropped (clicks, bumps);
- the audio handed out is padded by `speech_pad_ms` on both sides (what is available, never
  overlapping the previous utterance's audio).

Sample indices count from the first sample fed (stream time), so boundaries are exact and
independent of how the stream was chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np


@dataclass(frozen=True)
class SegmenterConfig:
    """Segmentation parameters (node parameters `vad_*`)."""

    sample_rate: int = 16000
    frame_samples: int = 512          # Silero VAD at 16 kHz takes 512-sample frames (32 ms)
    threshold: float = 0.5
    neg_threshold: Optional[float] = None
    min_silence_ms: int = 500
    min_speech_ms: int = 250
    max_utterance_s: float = 10.0
    speech_pad_ms: int = 200

    def problems(self) -> List[str]:
        """Why this configuration is unusable (empty when it is fine)."""
        out = []
        if not 0.0 < self.threshold < 1.0:
            out.append(f'threshold must be in (0, 1), got {self.threshold}')
        if self.neg_threshold is not None and not 0.0 <= self.neg_threshold <= self.threshold:
            out.append(f'neg_threshold must be in [0, threshold], got {self.neg_threshold}')
        if self.min_silence_ms < 0 or self.min_speech_ms < 0 or self.speech_pad_ms < 0:
            out.append('durations must be >= 0')
        if self.max_utterance_s * 1000.0 <= self.min_speech_ms:
            out.append('max_utterance_s must be longer than min_speech_ms')
        if self.sample_rate <= 0 or self.frame_samples <= 0:
            out.append('sample_rate and frame_samples must be positive')
        return out

    @property
    def negative_threshold(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(0.01, self.threshold - 0.15)

    def samples(self, ms: float) -> int:
        return int(round(ms * self.sample_rate / 1000.0))


@dataclass(frozen=True)
class Utterance:
    """One segmented utterance. Sample indices are stream time (from the first sample fed)."""

    audio: np.ndarray         # float32, padded
    start_sample: int         # first sample of `audio`
    end_sample: int           # one past the last sample of `audio`
    speech_start: int         # first speech frame (unpadded)
    speech_end: int           # end of the last speech frame (unpadded)
    reason: str               # 'silence', 'max_length' or 'flush'
    sample_rate: int = 16000

    @property
    def start_s(self) -> float:
        return self.speech_start / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.speech_end / self.sample_rate

    @property
    def duration_s(self) -> float:
        return (self.speech_end - self.speech_start) / self.sample_rate


class UtteranceSegmenter:
    """Streaming utterance segmentation around an injected per-frame VAD."""

    def __init__(self, config: SegmenterConfig, vad: Callable[[np.ndarray], float],
                 reset_vad: Optional[Callable[[], None]] = None) -> None:
        problems = config.problems()
        if problems:
            raise ValueError('; '.join(problems))
        self.config = config
        self._vad = vad
        self._reset_vad = reset_vad
        self._frame = config.frame_samples
        self._pad = config.samples(config.speech_pad_ms)
        self._min_silence = config.samples(config.min_silence_ms)
        self._min_speech = config.samples(config.min_speech_ms)
        self._max_len = int(round(config.max_utterance_s * config.sample_rate))
        self.frames = 0
        self.speech_frames = 0
        self.dropped = 0           # utterances shorter than min_speech
        self.last_probability = 0.0
        self.reset()

    def reset(self) -> None:
        """Forget the stream (stream time restarts at 0) and the VAD state."""
        self._pending = np.zeros(0, dtype=np.float32)   # samples not yet in a frame
        self._buf = np.zeros(0, dtype=np.float32)       # retained audio
        self._buf_start = 0                             # stream index of _buf[0]
        self._pos = 0                                   # stream index of the next frame
        self._in_speech = False
        self._speech_start = 0
        self._last_speech_end = 0
        self._tentative_end: Optional[int] = None
        self._floor = 0          # end of the last emitted audio: padding never overlaps it
        if self._reset_vad is not None:
            self._reset_vad()

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def stream_samples(self) -> int:
        """Samples fed so far (including a partial frame)."""
        return self._pos + self._pending.size

    def feed(self, samples: np.ndarray) -> List[Utterance]:
        """Add 16 kHz mono float32 samples; return the utterances that ended."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._buf = np.concatenate((self._buf, x))
        data = np.concatenate((self._pending, x)) if self._pending.size else x
        out: List[Utterance] = []
        n_frames = data.size // self._frame
        for k in range(n_frames):
            frame = data[k * self._frame:(k + 1) * self._frame]
            out.extend(self._on_frame(frame))
        self._pending = data[n_frames * self._frame:].copy()
        self._trim()
        return out

    def flush(self) -> List[Utterance]:
        """End of stream: close an utterance in progress (reason 'flush')."""
        out: List[Utterance] = []
        if self._in_speech:
            utt = self._emit(self._last_speech_end, 'flush')
            if utt is not None:
                out.append(utt)
            self._in_speech = False
        return out

    # ----------------------------------------------------------------------------- internals
    def _on_frame(self, frame: np.ndarray) -> List[Utterance]:
        start, end = self._pos, self._pos + self._frame
        self._pos = end
        p = float(self._vad(frame))
        self.last_probability = p
        self.frames += 1
        cfg = self.config
        out: List[Utterance] = []
        if p >= cfg.threshold:
            self.speech_frames += 1
        if not self._in_speech:
            if p >= cfg.threshold:
                self._in_speech = True
                self._speech_start = start
                self._last_speech_end = end
                self._tentative_end = None
            return out
        if p >= cfg.threshold:
            self._last_speech_end = end
            self._tentative_end = None
        elif p < cfg.negative_threshold and self._tentative_end is None:
            self._tentative_end = start
        if self._tentative_end is not None and end - self._tentative_end >= self._min_silence:
            utt = self._emit(self._last_speech_end, 'silence')
            if utt is not None:
                out.append(utt)
            self._in_speech = False
            self._tentative_end = None
        elif end - self._speech_start >= self._max_len:
            # Cut at the frame boundary; speech continues as a new utterance from here.
            utt = self._emit(end, 'max_length', pad_end=False)
            if utt is not None:
                out.append(utt)
            self._speech_start = end
            self._last_speech_end = end
            self._tentative_end = None
        return out

    def _emit(self, speech_end: int, reason: str, pad_end: bool = True) -> Optional[Utterance]:
        speech_start = self._speech_start
        if speech_end - speech_start < self._min_speech:
            self.dropped += 1
            return None
        a = max(self._buf_start, self._floor, speech_start - self._pad)
        available_end = self._buf_start + self._buf.size
        b = min(available_end, speech_end + (self._pad if pad_end else 0))
        self._floor = b
        audio = self._buf[a - self._buf_start:b - self._buf_start].copy()
        return Utterance(audio, a, b, speech_start, speech_end, reason, self.config.sample_rate)

    def _trim(self) -> None:
        """Keep only what a future utterance can still need."""
        if self._in_speech:
            keep_from = self._speech_start - self._pad
        else:
            keep_from = self._pos - self._pad - self._frame
        keep_from = max(keep_from, self._buf_start)
        drop = keep_from - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start = keep_from
