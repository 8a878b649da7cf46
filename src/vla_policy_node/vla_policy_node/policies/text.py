"""A tokenizer that sees Korean directly, for the in-house `nano` backbone.

Hangul syllables are decomposed into their conjoining jamo (Unicode NFD: 왼 -> ㅇ ㅚ ㄴ), so a
closed vocabulary of ~600 symbols covers every Korean sentence and related words share
pieces (왼쪽/오른쪽 differ in their first jamo, not in an opaque syllable id). Printable ASCII
has its own ids; anything else falls back to its UTF-8 bytes, so no input is ever unknown.
The `byte` mode uses UTF-8 bytes only.

The vocabulary is fixed (nothing to train) and written with the checkpoint
(`tokenizer/vocab.json`) so a checkpoint always names the scheme it was trained with.
Pure Python + numpy.
"""

from __future__ import annotations

import json
import os
import unicodedata
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .errors import CheckpointError, ConfigError, read_json

PAD, BOS, EOS, UNK = 0, 1, 2, 3
_SPECIALS = ('<pad>', '<s>', '</s>', '<unk>')
_BYTE_BASE = len(_SPECIALS)                     # 256 byte ids
_ASCII_BASE = _BYTE_BASE + 256                  # printable ASCII 0x20..0x7e
_ASCII = range(0x20, 0x7F)
_JAMO_BASE = _ASCII_BASE + len(_ASCII)          # conjoining jamo U+1100..U+11FF
_JAMO = range(0x1100, 0x1200)
VOCAB_FILE = 'vocab.json'


class CharTokenizer:
    """Text -> ids (jamo / ASCII / UTF-8 byte fallback), batched to padded numpy arrays."""

    VERSION = 1

    def __init__(self, mode: str = 'jamo', max_length: int = 128, lowercase: bool = True) -> None:
        if mode not in ('jamo', 'byte'):
            raise ConfigError(f"tokenizer mode must be 'jamo' or 'byte', got {mode!r}")
        if max_length < 3:
            raise ConfigError(f'max_length must be >= 3, got {max_length}')
        self.mode = mode
        self.max_length = int(max_length)
        self.lowercase = bool(lowercase)

    @property
    def vocab_size(self) -> int:
        return _JAMO_BASE + len(_JAMO) if self.mode == 'jamo' else _ASCII_BASE

    def _char_ids(self, ch: str) -> List[int]:
        code = ord(ch)
        if self.mode == 'jamo':
            if 0x20 <= code < 0x7F:
                return [_ASCII_BASE + code - 0x20]
            if 0x1100 <= code < 0x1200:
                return [_JAMO_BASE + code - 0x1100]
        return [_BYTE_BASE + b for b in ch.encode('utf-8')]

    def normalize(self, text: str) -> str:
        """Whitespace collapsed, ASCII lower-cased (if enabled), Hangul decomposed to jamo."""
        text = ' '.join(text.split())
        if self.lowercase:
            text = text.lower()
        # NFKC first folds compatibility forms (full-width Latin, compatibility jamo), NFD then
        # splits syllables into conjoining jamo.
        return unicodedata.normalize('NFD', unicodedata.normalize('NFKC', text))

    def encode(self, text: str) -> List[int]:
        """Ids of one text: <s> pieces </s>, truncated to max_length."""
        ids = [BOS]
        for ch in self.normalize(text):
            ids.extend(self._char_ids(ch))
        ids = ids[:self.max_length - 1]
        ids.append(EOS)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Best-effort inverse of `encode` (recomposed to NFC); for debugging."""
        raw = bytearray()
        for i in ids:
            i = int(i)
            if i < _BYTE_BASE:
                continue
            if i < _ASCII_BASE:
                raw.append(i - _BYTE_BASE)
            elif i < _JAMO_BASE:
                raw.extend(chr(0x20 + i - _ASCII_BASE).encode('utf-8'))
            else:
                raw.extend(chr(0x1100 + i - _JAMO_BASE).encode('utf-8'))
        return unicodedata.normalize('NFC', raw.decode('utf-8', errors='replace'))

    def __call__(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """(ids int64 (B, L), mask int64 (B, L)) right-padded to the longest text."""
        encoded = [self.encode(t) for t in texts]
        length = max((len(e) for e in encoded), default=2)
        ids = np.full((len(encoded), length), PAD, dtype=np.int64)
        mask = np.zeros((len(encoded), length), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, :len(e)] = e
            mask[row, :len(e)] = 1
        return ids, mask

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> Dict[str, object]:
        return {'type': 'char', 'version': self.VERSION, 'mode': self.mode,
                'max_length': self.max_length, 'lowercase': self.lowercase,
                'vocab_size': self.vocab_size,
                'layout': {'specials': list(_SPECIALS), 'byte_base': _BYTE_BASE,
                           'ascii_base': _ASCII_BASE, 'jamo_base': _JAMO_BASE}}

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, VOCAB_FILE), 'w', encoding='utf-8') as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, directory: str) -> 'CharTokenizer':
        path = os.path.join(directory, VOCAB_FILE)
        data = read_json(path, f'tokenizer vocabulary missing: {path}')
        if data.get('type') != 'char' or int(data.get('version', -1)) != cls.VERSION:
            raise CheckpointError(f'{path}: not a version-{cls.VERSION} char tokenizer')
        tok = cls(str(data.get('mode')), int(data.get('max_length', 128)),
                  bool(data.get('lowercase', True)))
        if int(data.get('vocab_size', -1)) != tok.vocab_size:
            raise CheckpointError(f'{path}: vocabulary size {data.get("vocab_size")} does not '
                                  f'match this version ({tok.vocab_size})')
        return tok
