"""Shared fixtures of the vla_instruction tests: synthesised Korean speech and a model cache.

espeak-ng's Korean voice is robotic: these clips are for plumbing (VAD boundaries, audio flow);
the end-to-end recognition check is vla_instruction.speech.evaluation.
"""

import pathlib
import shutil
import subprocess
import wave
from typing import List, Tuple

import numpy as np
import pytest

UTTERANCES = ('박스를 왼쪽으로 돌아서 컵까지 가세요', '두 박스 사이 오른쪽 경로로 컵까지 가세요')
LEAD_S, GAP_S, TAIL_S = 1.0, 1.5, 1.5
NOISE = 0.003     # white noise floor (full scale 1.0) over the whole stream


def espeak_ko(text: str, path: pathlib.Path) -> Tuple[np.ndarray, int]:
    """Synthesise `text` with espeak-ng -v ko; return (float32 mono samples, rate)."""
    if shutil.which('espeak-ng') is None:
        pytest.skip('espeak-ng is not installed (apt install espeak-ng)')
    subprocess.run(['espeak-ng', '-v', 'ko', '-w', str(path), text], check=True,
                   capture_output=True, timeout=60)
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2')
    return data.astype(np.float32) / 32768.0, rate


def speech_span(x: np.ndarray, rate: int, level: float = 0.01) -> Tuple[float, float]:
    """(start, end) s of the audible part of a clean clip (10 ms RMS above `level`)."""
    hop = rate // 100
    rms = np.sqrt(np.mean(x[:x.size // hop * hop].reshape(-1, hop) ** 2, axis=1))
    loud = np.flatnonzero(rms > level)
    return loud[0] * hop / rate, (loud[-1] + 1) * hop / rate


class SpeechStream:
    """Two Korean utterances separated by silence, at espeak's native rate (22050 Hz)."""

    def __init__(self, samples: np.ndarray, rate: int, spans: List[Tuple[float, float]],
                 clips: List[np.ndarray]) -> None:
        self.samples = samples
        self.rate = rate
        self.spans = spans          # ground truth (start, end) s of each utterance's speech
        self.clips = clips          # the clean clips, one per utterance

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.rate


@pytest.fixture(scope='session')
def speech_stream(tmp_path_factory) -> SpeechStream:
    """`[1 s silence] utterance 1 [1.5 s] utterance 2 [1.5 s]` with a low noise floor."""
    tmp = tmp_path_factory.mktemp('espeak')
    clips, rate = [], 0
    for i, text in enumerate(UTTERANCES):
        clip, rate = espeak_ko(text, tmp / f'u{i}.wav')
        clips.append(clip)
    parts, spans, t = [np.zeros(int(LEAD_S * rate), np.float32)], [], LEAD_S
    for i, clip in enumerate(clips):
        a, b = speech_span(clip, rate)
        spans.append((t + a, t + b))
        parts.append(clip)
        t += clip.size / rate
        pause = GAP_S if i + 1 < len(clips) else TAIL_S
        parts.append(np.zeros(int(pause * rate), np.float32))
        t += int(pause * rate) / rate
    samples = np.concatenate(parts)
    samples += np.random.default_rng(7).normal(0.0, NOISE, samples.size).astype(np.float32)
    return SpeechStream(np.clip(samples, -1.0, 1.0), rate, spans, clips)


@pytest.fixture(scope='session')
def model_cache(tmp_path_factory) -> pathlib.Path:
    """A per-session directory where `pkg:` Whisper models are assembled (not ~/.cache)."""
    return tmp_path_factory.mktemp('vla_model_cache')
