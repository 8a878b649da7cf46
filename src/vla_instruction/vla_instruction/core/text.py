"""Text preparation shared by the normaliser and its acceptance rules (pure).

`PreparedText(original)` holds three views of one instruction:
- `raw`: NFKC, lower case, zero-width characters removed, punctuation kept (for the few rules
  that need it: "?" and the interjection "no,");
- `spaced`: `raw` with punctuation replaced by spaces and whitespace collapsed (English words
  are matched as whole words here);
- `compact`: `spaced` without spaces (Korean terms are matched here, so spacing variants read
  the same), with maps from `spaced` offsets and to `raw` offsets and a coverage mask of what
  the lexicon read.

Plus Hangul helpers: is a character a precomposed syllable, and its final consonant (받침).
"""

from __future__ import annotations

import re
import unicodedata
from typing import List, Tuple

#: Zero-width characters that input methods and web forms leave in text: dropped before
#: reading (so "가지\u200b마" still reads as 가지마).
_ZERO_WIDTH = dict.fromkeys(map(ord, '\u200b\u200c\u200d\u2060\ufeff'))
_PUNCT = re.compile(r'[^\w\s]|_')
_SPACES = re.compile(r'\s+')

_HANGUL_BASE = 0xAC00
_HANGUL_LAST = 0xD7A3
#: Index of the final consonant ㅆ in a precomposed syllable (the past-tense marker 았/었/였).
FINAL_SSANG_SIOT = 20
#: Index of the final consonant ㄹ (the prospective -ㄹ of 갈 때, 할 수).
FINAL_RIEUL = 8


def is_hangul_syllable(ch: str) -> bool:
    return _HANGUL_BASE <= ord(ch) <= _HANGUL_LAST


def final_consonant(ch: str) -> int:
    """Index (1-27) of the final consonant of a Hangul syllable; 0 for none or not Hangul."""
    if not is_hangul_syllable(ch):
        return 0
    return (ord(ch) - _HANGUL_BASE) % 28


def _raw(original: str) -> str:
    return unicodedata.normalize('NFKC', original).lower().translate(_ZERO_WIDTH)


def _spaced(raw: str) -> str:
    return _SPACES.sub(' ', _PUNCT.sub(' ', raw)).strip()


def spaced_and_compact(original: str) -> Tuple[str, str]:
    """The `spaced` and `compact` views alone (no offset maps: cheap on long text)."""
    spaced = _spaced(_raw(original))
    return spaced, spaced.replace(' ', '')


class PreparedText:
    """An instruction in the three views described in the module docstring."""

    def __init__(self, original: str) -> None:
        t = self.raw = _raw(original)
        self.spaced = _spaced(t)
        self.to_compact: List[int] = []
        compact: List[str] = []
        for ch in self.spaced:
            self.to_compact.append(len(compact))
            if ch != ' ':
                compact.append(ch)
        self.to_compact.append(len(compact))
        self.compact = ''.join(compact)
        self.covered = [False] * len(self.compact)
        # Punctuation becomes one space each, so compact characters are exactly the raw ones
        # that are neither punctuation nor whitespace: raw offset of every compact character.
        self.compact_to_raw = [i for i, ch in enumerate(t)
                               if not ch.isspace() and not _PUNCT.match(ch)]

    def compact_span(self, start: int, end: int) -> Tuple[int, int]:
        """Spaced-text span -> compact span."""
        return self.to_compact[start], self.to_compact[end]

    def free(self, start: int, end: int) -> bool:
        return not any(self.covered[start:end])

    def cover(self, start: int, end: int) -> None:
        for i in range(start, end):
            self.covered[i] = True

    def tokens(self) -> List[str]:
        return self.spaced.split(' ') if self.spaced else []

    def token_spans(self) -> List[Tuple[str, int, int]]:
        """(token, compact start, compact end) of every space-separated token."""
        spans = []
        position = 0
        for token in self.tokens():
            spans.append((token, self.to_compact[position],
                          self.to_compact[position + len(token)]))
            position += len(token) + 1
        return spans
