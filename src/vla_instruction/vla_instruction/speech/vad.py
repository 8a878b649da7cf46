"""Silero VAD (the `silero-vad` package, ONNX model run by onnxruntime) as a per-frame callable.

`SileroVad()(frame)` returns the speech probability of one 512-sample frame at 16 kHz and
keeps the model's recurrent state between calls (`reset()` forgets it). It plugs into
`core.segmenter.UtteranceSegmenter`.
"""

from __future__ import annotations

import warnings

import numpy as np

from vla_instruction.speech import SpeechUnavailable

FRAME_SAMPLES = 512
SAMPLE_RATE = 16000
INSTALL_HINT = 'pip install -c requirements/constraints.txt silero-vad==6.2.3'


def silero_available() -> bool:
    """True when the silero-vad package can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec('silero_vad') is not None


class SileroVad:
    """Speech probability per 512-sample 16 kHz frame (Silero VAD v6, ONNX, one CPU thread)."""

    frame_samples = FRAME_SAMPLES
    sample_rate = SAMPLE_RATE

    def __init__(self) -> None:
        try:
            import torch
        except ImportError as exc:  # silero-vad's wrapper takes torch tensors
            raise SpeechUnavailable(f'silero-vad needs torch: {exc}') from exc
        # Importing silero_vad calls torch.set_num_threads(1) for the whole process; keep the
        # process's setting (other users of torch in the same process must not be slowed).
        threads = torch.get_num_threads()
        try:
            from silero_vad import load_silero_vad
        except ImportError as exc:
            raise SpeechUnavailable(f'the Silero VAD package is not installed ({exc}): '
                                    f'{INSTALL_HINT}') from exc
        finally:
            torch.set_num_threads(threads)
        self._torch = torch
        with warnings.catch_warnings():
            # silero-vad 6.2 locates its model with a deprecated importlib.resources call.
            warnings.simplefilter('ignore', DeprecationWarning)
            self._model = load_silero_vad(onnx=True)

    def __call__(self, frame: np.ndarray) -> float:
        x = np.ascontiguousarray(frame, dtype=np.float32).reshape(-1)
        if x.size != FRAME_SAMPLES:
            raise ValueError(f'Silero VAD takes {FRAME_SAMPLES}-sample frames, got {x.size}')
        with self._torch.no_grad():
            return float(self._model(self._torch.from_numpy(x), SAMPLE_RATE).item())

    def reset(self) -> None:
        """Forget the recurrent state (a new stream)."""
        self._model.reset_states()
