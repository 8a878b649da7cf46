"""Speech front-end: Silero VAD, Whisper recognition (faster-whisper), model resolution.

Heavy packages (torch via silero-vad, ctranslate2 via faster-whisper) are imported lazily, when
a class is instantiated; a missing package raises `SpeechUnavailable` with the install line.
"""


class SpeechUnavailable(RuntimeError):
    """A speech package or model is missing; the message says what to install or configure."""
