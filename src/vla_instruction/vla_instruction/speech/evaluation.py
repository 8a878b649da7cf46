"""Spoken commands end to end: espeak-ng Korean -> Whisper -> normaliser, judged per sentence.

Used by `benchmarks/asr_accuracy.py` (the figures: CER, how many commands came out right,
refused, or wrong) and by the real-Whisper test. espeak-ng's Korean voice is robotic and
Whisper-base is small: the character error rate is high (docs/instruction.md gives the
measured figure). What must hold whatever the CER: a spoken command becomes its own task or
nothing, never another task, and a spoken prohibition is never acted on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from vla_instruction.core.audio import StreamResampler, TARGET_RATE
from vla_instruction.core.normalizer import normalize, NormalizedInstruction, with_asr_confidence

#: Sentences spoken in the evaluation: the eight scenario commands, a target-only command, a
#: prohibition and two stop words (the Korean an operator of this robot says most).
SENTENCES: Tuple[str, ...] = (
    '박스를 왼쪽으로 돌아서 컵까지 가세요', '박스를 오른쪽으로 돌아서 컵까지 가세요',
    '박스를 왼쪽으로 피해서 컵까지 가세요', '박스를 오른쪽으로 피해서 컵까지 가세요',
    '두 박스 사이 왼쪽 경로로 컵까지 가세요', '두 박스 사이 오른쪽 경로로 컵까지 가세요',
    '두 박스를 왼쪽으로 피해서 컵까지 가세요', '두 박스를 오른쪽으로 피해서 컵까지 가세요',
    '컵까지 가세요', '컵까지 가지 마세요', '정지', '멈춰')
#: espeak-ng settings of the evaluation (voice, words per minute): its default Korean voice at
#: 160 wpm, the lowest CER of the sweep in benchmarks/asr_accuracy.py (docs/instruction.md).
VOICE, RATE_WPM = 'ko', 160
DEFAULT_MIN_CONFIDENCE = 0.3     # instruction_node's default `min_confidence`


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the two texts' letters (spaces and punctuation dropped)
    over the reference length: substitutions + deletions + insertions, so it can exceed 1."""
    ref = re.sub(r'[\W_]', '', reference.lower())
    hyp = re.sub(r'[\W_]', '', hypothesis.lower())
    row = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, b in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (a != b))
    return row[len(hyp)] / max(1, len(ref))


def synthesise(text: str, voice: str = VOICE, rate_wpm: int = RATE_WPM,
               directory: Optional[str] = None) -> np.ndarray:
    """espeak-ng speech of `text` as 16 kHz mono float32. Raises FileNotFoundError without
    espeak-ng."""
    if shutil.which('espeak-ng') is None:
        raise FileNotFoundError('espeak-ng is not installed (apt install espeak-ng)')
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, 'speech.wav')
        subprocess.run(['espeak-ng', '-v', voice, '-s', str(rate_wpm), '-w', path, text],
                       check=True, capture_output=True, timeout=60)
        with wave.open(path) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), '<i2').astype(np.float32)
    return StreamResampler(rate, TARGET_RATE).process(pcm / 32768.0)


@dataclass(frozen=True)
class SpokenResult:
    """One spoken sentence: what was said, heard and decided."""

    reference: str
    expected: NormalizedInstruction      # the normaliser's reading of the reference text
    transcript: str
    asr_confidence: float
    compression_ratio: float
    decided: NormalizedInstruction       # what instruction_node would publish
    cer: float

    @property
    def verdict(self) -> str:
        """'correct' (the reference's own task, or its stop), 'refused' (no motion: refused,
        not understood, or a stop where none was said) or 'wrong' (a task, but not the
        reference's: the failure that must not happen)."""
        d, e = self.decided, self.expected
        if d.is_stop:
            return 'correct' if e.is_stop else 'refused'
        if not d.understood:
            return 'refused'
        if e.understood and d.canonical == e.canonical:
            return 'correct'
        return 'wrong'


def evaluate(transcribe: Callable[[np.ndarray], object], sentences: Sequence[str] = SENTENCES,
             voice: str = VOICE, rate_wpm: int = RATE_WPM,
             min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> List[SpokenResult]:
    """Speak every sentence, transcribe it with `transcribe(audio) -> Transcript` and decide
    as instruction_node does (normaliser, then ASR confidence)."""
    results = []
    for sentence in sentences:
        heard = transcribe(synthesise(sentence, voice, rate_wpm))
        reading = normalize(heard.text)
        decided = with_asr_confidence(reading, heard.confidence, min_confidence)
        results.append(SpokenResult(sentence, normalize(sentence), heard.text,
                                    heard.confidence, getattr(heard, 'compression_ratio', 0.0),
                                    decided, character_error_rate(sentence, heard.text)))
    return results


def mean_cer(results: Sequence[SpokenResult]) -> float:
    """Corpus CER: total edits over total reference letters."""
    letters = [len(re.sub(r'[\W_]', '', r.reference)) for r in results]
    edits = sum(r.cer * n for r, n in zip(results, letters))
    return edits / max(1, sum(letters))
