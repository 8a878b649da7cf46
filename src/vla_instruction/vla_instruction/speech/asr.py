"""Whisper speech recognition through faster-whisper (CTranslate2), and a worker thread.

Why faster-whisper and not `transformers`: see benchmarks/asr_benchmark.py and
docs/instruction.md (int8 CTranslate2 on CPU is several times faster than transformers'
fp32 PyTorch Whisper at the same size, loads in about a second, needs no torch, and the
same code uses CUDA float16 on a GPU).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from vla_instruction.speech import SpeechUnavailable
from vla_instruction.speech.models import DEFAULT_MODEL, resolve_model_path

INSTALL_HINT = 'pip install -c requirements/constraints.txt faster-whisper==1.2.1'
_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)   # Whisper's default schedule


#: Whisper's own threshold for a repetitive (hallucinated) decode (openai/whisper transcribe()).
REPETITION_RATIO = 2.4


@dataclass(frozen=True)
class AsrSettings:
    """Recogniser parameters (node parameters `asr_*`)."""

    model_path: str = DEFAULT_MODEL
    device: str = 'auto'              # 'auto' (CUDA when present), 'cpu', 'cuda'
    compute_type: str = 'auto'        # 'auto': int8 on CPU, float16 on CUDA
    language: str = 'ko'
    beam_size: int = 1
    cpu_threads: int = 0              # 0: CTranslate2's default
    initial_prompt: str = ''          # optional; not a vocabulary list (docs/instruction.md)
    # Whisper's temperature fallback re-decodes (up to 6x) when a result looks unreliable;
    # off by default: a command must come back fast, and a doubtful result is flagged by its
    # low confidence anyway (measured in benchmarks/asr_benchmark.py).
    temperature_fallback: bool = False
    cache_dir: str = ''               # where packaged models are assembled ('' = default)


@dataclass(frozen=True)
class Transcript:
    """What the recogniser heard in one utterance."""

    text: str
    confidence: float          # exp(mean token log-prob) x (1 - no-speech probability); 0 for
    #                            a repetition loop (compression_ratio > REPETITION_RATIO)
    no_speech_prob: float
    avg_logprob: float
    audio_s: float
    latency_s: float
    #: gzip compression ratio of the text (max over segments); above `REPETITION_RATIO` Whisper
    #: is looping ("오구, 오구, 오구, ...", measured on espeak-ng Korean with confidence 0.88)
    compression_ratio: float = 0.0

    @property
    def likely_no_speech(self) -> bool:
        """Whisper's own rule for "this was not speech" (its hallucination guard)."""
        return not self.text or (self.no_speech_prob > 0.6 and self.avg_logprob < -1.0)


def resolve_device(device: str, compute_type: str) -> tuple:
    """('cpu'|'cuda', compute type) from the parameters; 'auto' picks CUDA when available."""
    device = (device or 'auto').lower()
    if device not in ('auto', 'cpu', 'cuda'):
        raise ValueError(f"asr_device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == 'auto':
        try:
            import ctranslate2

            device = 'cuda' if ctranslate2.get_cuda_device_count() > 0 else 'cpu'
        except Exception:  # noqa: BLE001 - no CUDA runtime: CPU
            device = 'cpu'
    if not compute_type or compute_type == 'auto':
        compute_type = 'float16' if device == 'cuda' else 'int8'
    return device, compute_type


class WhisperRecognizer:
    """Transcribe 16 kHz mono float32 utterances with a CTranslate2 Whisper model."""

    sample_rate = 16000

    def __init__(self, settings: AsrSettings = AsrSettings()) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechUnavailable(f'faster-whisper is not installed ({exc}): '
                                    f'{INSTALL_HINT}') from exc
        self.settings = settings
        self.model_dir = resolve_model_path(settings.model_path, settings.cache_dir or None)
        self.device, self.compute_type = resolve_device(settings.device, settings.compute_type)
        started = time.monotonic()
        self._model = WhisperModel(self.model_dir, device=self.device,
                                   compute_type=self.compute_type,
                                   cpu_threads=max(0, int(settings.cpu_threads)),
                                   local_files_only=True)
        self.load_s = time.monotonic() - started

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """One utterance -> Transcript (Whisper's own VAD is off: ours already cut it)."""
        x = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        started = time.monotonic()
        segments, _info = self._model.transcribe(
            x, language=self.settings.language or None, beam_size=max(1, self.settings.beam_size),
            vad_filter=False, condition_on_previous_text=False, without_timestamps=True,
            initial_prompt=self.settings.initial_prompt or None,
            temperature=_FALLBACK_TEMPERATURES if self.settings.temperature_fallback else 0.0)
        texts, weights, logprobs, no_speech, ratio = [], [], [], 0.0, 0.0
        for seg in segments:
            texts.append(seg.text.strip())
            n = max(1, len(seg.tokens))
            weights.append(n)
            logprobs.append(seg.avg_logprob * n)
            no_speech = max(no_speech, float(seg.no_speech_prob))
            ratio = max(ratio, float(seg.compression_ratio))
        latency = time.monotonic() - started
        text = ' '.join(t for t in texts if t)
        avg = sum(logprobs) / sum(weights) if weights else -math.inf
        confidence = 0.0 if not weights else math.exp(min(0.0, avg)) * (1.0 - no_speech)
        if ratio > REPETITION_RATIO:
            confidence = 0.0      # a repetition loop is not a transcript, however sure
        return Transcript(text, round(float(confidence), 4), no_speech,
                          float(avg) if weights else float('-inf'), x.size / self.sample_rate,
                          latency, ratio)


@dataclass
class _Job:
    audio: np.ndarray
    meta: Any


class AsrWorker:
    """Runs recognition in its own thread so the node's callbacks never wait for Whisper.

    The recogniser is built in the thread (loading takes seconds); jobs submitted meanwhile
    queue up. `on_result(meta, transcript)` and `on_error(meta, exc)` are called from the
    worker thread. A full queue drops the oldest job (reported through `on_error`).
    """

    def __init__(self, factory: Callable[[], Any], on_result: Callable[[Any, Transcript], None],
                 on_error: Callable[[Any, BaseException], None],
                 on_ready: Optional[Callable[[Any], None]] = None, max_queue: int = 8) -> None:
        self._factory = factory
        self._on_result = on_result
        self._on_error = on_error
        self._on_ready = on_ready
        self._queue: 'queue.Queue[Optional[_Job]]' = queue.Queue(maxsize=max(1, max_queue))
        self._stop = threading.Event()
        self.state = 'loading'          # 'loading', 'ready', 'failed', 'stopped'
        self.error: Optional[BaseException] = None
        self.recognizer: Any = None
        self.busy = False
        self.done = 0
        self._thread = threading.Thread(target=self._run, name='asr-worker', daemon=True)
        self._thread.start()

    def submit(self, audio: np.ndarray, meta: Any) -> bool:
        """Queue an utterance; False (and `on_error`) when the recogniser failed to load."""
        if self.state == 'failed':
            self._on_error(meta, self.error or SpeechUnavailable('recogniser failed'))
            return False
        while True:
            try:
                self._queue.put_nowait(_Job(audio, meta))
                return True
            except queue.Full:
                try:
                    old = self._queue.get_nowait()
                except queue.Empty:
                    continue
                if old is not None:
                    self._on_error(old.meta, RuntimeError('ASR queue full: utterance dropped'))

    @property
    def pending(self) -> int:
        return self._queue.qsize() + (1 if self.busy else 0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self.state = 'stopped'

    def _run(self) -> None:
        try:
            self.recognizer = self._factory()
        except BaseException as exc:  # noqa: BLE001 - reported to the node, never silent
            self.error = exc
            self.state = 'failed'
            # Answer every queued (and racing) job with the load error until stopped.
            while not self._stop.is_set():
                job = self._queue.get()
                if job is None:
                    break
                self._on_error(job.meta, exc)
            return
        self.state = 'ready'
        if self._on_ready is not None:
            self._on_ready(self.recognizer)
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                break
            self.busy = True
            try:
                result = self.recognizer.transcribe(job.audio)
            except Exception as exc:  # noqa: BLE001 - one bad utterance must not kill the thread
                self._on_error(job.meta, exc)
            else:
                self._on_result(job.meta, result)
            finally:
                self.busy = False
                self.done += 1
