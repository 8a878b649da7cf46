"""Silero VAD v6 (the model shipped in the `silero-vad` package) as a per-frame callable.

`SileroVad()(frame)` returns the speech probability of one 512-sample frame at 16 kHz and
keeps the model's recurrent state and 64-sample context between calls (`reset()` forgets
them). It plugs into `core.segmenter.UtteranceSegmenter`.

The ONNX model file comes from the silero-vad package and runs directly on onnxruntime (one
thread). The package's own wrapper (`load_silero_vad(onnx=True)`) takes torch tensors and its
import sets torch's thread count process-wide; going straight to onnxruntime keeps torch out of
the instruction node (about 2 s of start-up and a few hundred MB of memory on the robot).
`test_speech.py` checks that the probabilities equal the package's own wrapper's.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Optional

import numpy as np

from vla_instruction.speech import SpeechUnavailable

FRAME_SAMPLES = 512
CONTEXT_SAMPLES = 64
SAMPLE_RATE = 16000
INSTALL_HINT = 'pip install -c requirements/constraints.txt silero-vad==6.2.3'


def silero_model_path() -> Optional[str]:
    """Path of silero_vad.onnx inside the installed silero-vad package (not imported)."""
    spec = importlib.util.find_spec('silero_vad')
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], 'data', 'silero_vad.onnx')
    return path if os.path.isfile(path) else None


def silero_available() -> bool:
    """True when the silero-vad model and onnxruntime are installed."""
    return silero_model_path() is not None and importlib.util.find_spec('onnxruntime') is not None


class SileroVad:
    """Speech probability per 512-sample 16 kHz frame (Silero VAD v6 ONNX, one CPU thread)."""

    frame_samples = FRAME_SAMPLES
    sample_rate = SAMPLE_RATE

    def __init__(self, model_path: Optional[str] = None) -> None:
        path = model_path or silero_model_path()
        if path is None:
            raise SpeechUnavailable(f'the Silero VAD package is not installed: {INSTALL_HINT}')
        try:
            import onnxruntime
        except ImportError as exc:
            raise SpeechUnavailable(f'onnxruntime is not installed ({exc}): '
                                    'pip install onnxruntime==1.32.0') from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(path, sess_options=options,
                                                     providers=['CPUExecutionProvider'])
        names = {i.name for i in self._session.get_inputs()}
        if names != {'input', 'state', 'sr'}:
            raise SpeechUnavailable(f'{path}: unexpected Silero VAD inputs {sorted(names)}')
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state and context (a new stream)."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT_SAMPLES), dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        x = np.ascontiguousarray(frame, dtype=np.float32).reshape(1, -1)
        if x.shape[1] != FRAME_SAMPLES:
            raise ValueError(f'Silero VAD takes {FRAME_SAMPLES}-sample frames, got {x.shape[1]}')
        x = np.concatenate((self._context, x), axis=1)
        out, self._state = self._session.run(None, {'input': x, 'state': self._state,
                                                    'sr': self._sr})
        self._context = x[:, -CONTEXT_SAMPLES:]
        return float(out[0, 0])
