"""One-character typos of known words (pure).

Korean is compared in jamo, so one wrong key is one edit: 왼쫏 (ᄍ ᅩ ᆺ for ᄍ ᅩ ᆨ) is 왼쪽,
피헤서 is 피해서, and the phonetic spelling 도라서 (the final ㄹ written as the next initial)
is 돌아서. English is compared in letters (one substitution, insertion, deletion or swap of
neighbours: lfet, rigth, arond).

Deliberately narrow, because a typo fix must never invent a task:
- only words of at least two syllables (Korean) or four letters (English): 컵 -> 컴 or cup ->
  cop are too close to other words to be fixed safely;
- a variant that two known words share (주측: 좌측 or 우측?) is dropped, and so is a variant
  that is itself a word: listed in `REAL_WORDS` (추측 is not a typo of 우측; lift is not left)
  or one of the normaliser's particles and endings (하세요 is not a typo of 가세요);
- the normaliser corrects only text its lexicon could not read, and reads the corrected text
  again through every rule (a correction can add a refusal, never remove one).
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

from vla_instruction.core.text import is_hangul_syllable

#: Words that are one edit from a keyword but are words in their own right.
REAL_WORDS = frozenset((
    '추측', '아이', '나이', '사의', '박수', '상대', '상처', '중앙',
    'lift', 'loft', 'lent', 'lest', 'deft', 'heft', 'light', 'might', 'night', 'fight', 'sight',
    'tight', 'bight', 'eight', 'rights', 'round', 'void', 'move', 'love', 'more', 'mode', 'mole',
    'movie', 'beach', 'teach', 'peach', 'reach', 'heat', 'dead', 'read', 'lead', 'held', 'head',
    'heal', 'then', 'than', 'them', 'thin', 'this', 'that', 'path', 'bath', 'math', 'oath',
    'pass', 'past', 'side', 'wide', 'ride', 'hide', 'tide', 'aside', 'sides', 'cups', 'caps',
    'cops', 'mugs', 'bugs', 'hugs', 'rugs', 'boxer', 'foxes', 'boxed', 'bottles', 'battle',
    'basked', 'baskets', 'dodger', 'lodge', 'circles', 'along', 'among', 'avoids', 'toward',
    'towards', 'trough', 'though', 'thorough', 'throw', 'thought', 'please', 'plead', 'pleased',
    'leave', 'reach', 'rich', 'ranch', 'roach', 'coach', 'poach',
))

_L, _V, _T = 19, 21, 28


def _compose(lead: int, vowel: int, tail: int) -> str:
    return chr(0xAC00 + (lead * _V + vowel) * _T + tail)


def _parts(ch: str) -> Tuple[int, int, int]:
    index = ord(ch) - 0xAC00
    return index // (_V * _T), (index % (_V * _T)) // _T, index % _T


# Final consonant index -> the same consonant as an initial (for 돌아 <-> 도라).
_TAIL_TO_LEAD = {1: 0, 2: 1, 4: 2, 7: 3, 8: 5, 16: 6, 17: 7, 19: 9, 20: 10, 21: 11, 22: 12,
                 23: 14, 24: 15, 25: 16, 26: 17, 27: 18}
_IEUNG = 11


def korean_variants(word: str) -> List[str]:
    """Every string one jamo away from `word` (substitution inside one syllable, a final
    consonant added or dropped, or a final moved onto a following silent ㅇ)."""
    out: List[str] = []
    for i, ch in enumerate(word):
        lead, vowel, tail = _parts(ch)
        head, rest = word[:i], word[i + 1:]
        for other in range(_L):
            if other != lead:
                out.append(head + _compose(other, vowel, tail) + rest)
        for other in range(_V):
            if other != vowel:
                out.append(head + _compose(lead, other, tail) + rest)
        for other in range(_T):
            if other != tail:
                out.append(head + _compose(lead, vowel, other) + rest)
        if i + 1 < len(word):
            nlead, nvowel, ntail = _parts(word[i + 1])
            if tail in _TAIL_TO_LEAD and nlead == _IEUNG:        # 돌아 -> 도라
                out.append(head + _compose(lead, vowel, 0)
                           + _compose(_TAIL_TO_LEAD[tail], nvowel, ntail) + word[i + 2:])
    return out


def within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of a and b is at most 1."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


class TypoCorrector:
    """Maps one-edit variants of known words back to the word (see the module docstring)."""

    def __init__(self, korean: Iterable[str], english: Iterable[str],
                 protected: Iterable[str] = ()) -> None:
        """`korean`, `english`: the words typos are corrected to; `protected`: words that are
        never taken for a typo (the particles and endings the normaliser reads as they are)."""
        known_ko = {w for w in korean if len(w) >= 2 and all(map(is_hangul_syllable, w))}
        protected = set(protected)
        self._english = sorted({w for w in english if len(w) >= 4 and w.isascii()})
        self._exact = set(known_ko) | set(self._english)
        variants: Dict[str, Optional[str]] = {}
        for word in known_ko:
            for variant in korean_variants(word):
                if variant in known_ko or variant in REAL_WORDS or variant in protected:
                    continue
                previous = variants.get(variant, word)
                variants[variant] = word if previous == word else None   # None: ambiguous
        self._ko = {k: v for k, v in variants.items() if v is not None}
        self._lengths = sorted({len(k) for k in self._ko}, reverse=True)

    def korean(self, run: str) -> Optional[Tuple[int, int, str]]:
        """The first (start, end, word) in `run` (text the lexicon did not read) whose
        substring is a typo of a known word, longest first."""
        for start in range(len(run)):
            for length in self._lengths:
                end = start + length
                if end > len(run):
                    continue
                word = self._ko.get(run[start:end])
                if word is not None:
                    return start, end, word
        return None

    def english(self, token: str) -> Optional[str]:
        """The known English word one edit from `token`, if exactly one."""
        if len(token) < 4 or token in REAL_WORDS or token in self._exact:
            return None
        matches = [w for w in self._english if within_one_edit(token, w)]
        return matches[0] if len(matches) == 1 else None
