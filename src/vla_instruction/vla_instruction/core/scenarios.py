"""The paraphrase table of the 8 navigation scenarios and the side vocabulary (pure).

The scenarios themselves (ids, layout, side, manoeuvre, canonical Korean and English
sentences) are defined once in `vla_common.scenarios`; this module adds the language around
them. Two boxes + "around" is not one of the 8 (it is still understood, with an empty
scenario).

`PARAPHRASES[scenario]` lists Korean, English and mixed paraphrases (the canonical Korean
first); `split_paraphrases` gives a deterministic train / held-out split that keeps the left and
right versions of one phrasing on the same side of the split. Pure Python, no rclpy.
"""

from __future__ import annotations

import hashlib
import re
from typing import Dict, List, Optional, Tuple

from vla_common.scenarios import HORI, LEFT, RIGHT, scenario, SCENARIOS, VERT

# Paraphrase templates per (count, layout). Placeholders are filled per side:
# {왼쪽} 왼쪽/오른쪽, {좌측} 좌측/우측, {왼편} 왼편/오른편, {left} left/right.
# Every template must normalise to its scenario (test_normalizer checks all of them).
_TEMPLATES: Dict[Tuple[int, str], List[str]] = {
    (1, VERT): [
        '박스를 {왼쪽}으로 돌아서 컵까지 가',
        '상자를 {왼쪽}으로 돌아서 컵까지 가 주세요',
        '{왼쪽}으로 박스를 돌아서 컵으로 가줘',
        '박스 {왼쪽}으로 돌아 컵까지 가라',
        '컵까지 가는데 박스를 {왼쪽}으로 돌아가',
        '박스를 {좌측}으로 돌아서 컵까지 이동하세요',
        '상자 {왼편}으로 돌아서 컵 쪽으로 가 주세요',
        '박스를 {왼쪽}으로 우회해서 컵까지 가세요',
        '박스 {왼쪽}으로 빙 돌아서 컵 있는 곳까지 갈래?',
        '로봇아, 박스를 {왼쪽}으로 돌아서 컵까지 가 줄래?',
        '박스 한 개를 {왼쪽}으로 돌아서 컵까지 가세요',
        '박스를{왼쪽}으로돌아서컵까지가세요',
        'box를 {왼쪽}으로 돌아서 컵까지 가',
        '박스를 {left}로 돌아서 cup까지 가세요',
        'go around the box on the {left} and go to the cup',
        'Go around the {left} side of the box, then go to the cup.',
    ],
    (1, HORI): [
        '박스를 {왼쪽}으로 피해서 컵까지 가',
        '상자를 {왼쪽}으로 피해서 컵까지 가 주세요',
        '박스를 {왼쪽}으로 비켜서 컵까지 가줘',
        '{좌측}으로 박스를 피해 컵으로 이동해',
        '박스 {왼편}으로 피해서 컵 쪽으로 가라',
        '컵까지 가되 박스는 {왼쪽}으로 피해 가세요',
        '박스를 {왼쪽}으로 회피해서 컵까지 가세요',
        '박스 하나를 {왼쪽}으로 피해서 컵까지 가',
        '1개의 박스를 {왼쪽}으로 피해서 컵까지 갈래',
        '박스를{왼쪽}으로피해서컵까지가세요',
        '박스를 {left}로 피해서 cup까지 가 주세요',
        'avoid the box on the {left} and go to the cup',
        'move {left} to avoid the box, then go to the cup',
        'dodge the box to the {left} and reach the cup!',
    ],
    (2, VERT): [
        '두 박스 사이 {왼쪽} 길로 컵까지 가',
        '박스 두 개 사이 {왼쪽} 경로로 컵까지 가 주세요',
        '두 상자 사이로 {왼쪽} 경로를 따라 컵까지 가줘',
        '박스 2개 사이 {좌측} 경로로 컵까지 이동하세요',
        '두 박스 사이의 {왼편} 길로 컵으로 가라',
        '박스들 사이 {왼쪽} 경로로 컵까지 가세요',
        '박스 둘 사이 {왼쪽}으로 컵까지 가',
        '두 박스 사이로 {왼쪽} 경로 타고 컵까지 갈래?',
        '2개의 박스 사이 {왼쪽} 경로로 컵까지 가 주세요',
        '두박스사이{왼쪽}경로로컵까지가세요',
        '두 박스 가운데 {왼쪽} 길로 컵까지 가세요',
        '두 box 사이 {left} 경로로 cup까지 가세요',
        'take the {left} path between the two boxes to the cup',
        'go between the 2 boxes on the {left} path to the cup',
    ],
    (2, HORI): [
        '두 박스를 {왼쪽}으로 피해서 컵까지 가',
        '박스 두 개를 {왼쪽}으로 피해서 컵까지 가 주세요',
        '두 상자를 {왼쪽}으로 비켜서 컵까지 가줘',
        '박스 2개를 {좌측}으로 피해 컵으로 이동하세요',
        '박스 둘을 {왼편}으로 피해서 컵 쪽으로 가라',
        '박스들을 {왼쪽}으로 피해서 컵까지 가세요',
        '상자 두개를 {왼쪽}으로 회피해서 컵까지 갈래',
        '2개의 상자를 {왼쪽}으로 피해서 컵까지 가 주세요',
        '두박스를{왼쪽}으로피해서컵까지가',
        '두 box를 {left}로 피해서 cup까지 가세요',
        'move {left} to avoid the two boxes, then go to the cup',
        'avoid both boxes on the {left} and go to the cup',
        'dodge the 2 boxes to the {left} and reach the cup',
    ],
}

_FILL = {
    LEFT: {'왼쪽': '왼쪽', '좌측': '좌측', '왼편': '왼편', 'left': 'left'},
    RIGHT: {'왼쪽': '오른쪽', '좌측': '우측', '왼편': '오른편', 'left': 'right'},
}


def _fill(template: str, side: str) -> str:
    return re.sub(r'\{(왼쪽|좌측|왼편|left)\}', lambda m: _FILL[side][m.group(1)], template)


def _build_paraphrases() -> Dict[str, List[str]]:
    table: Dict[str, List[str]] = {}
    for sc in SCENARIOS:
        entry = scenario(sc)
        texts = [entry.instruction_ko]
        texts += [_fill(t, entry.side) for t in _TEMPLATES[(entry.box_count, entry.orientation)]]
        table[sc] = list(dict.fromkeys(texts))
    return table


#: scenario -> paraphrases (Korean, English, mixed); the canonical Korean sentence is first.
PARAPHRASES: Dict[str, List[str]] = _build_paraphrases()

#: Side vocabulary as (left, right) pairs. The normaliser reads exactly these and
#: `swap_sides` mirrors exactly these, so the side-swap property holds by construction.
SIDE_PAIRS_KO: Tuple[Tuple[str, str], ...] = (
    ('왼쪽', '오른쪽'), ('왼편', '오른편'), ('왼측', '오른측'), ('좌측', '우측'), ('좌편', '우편'),
    ('좌쪽', '우쪽'), ('좌회전', '우회전'))
#: Bare stems, sides only at the start of a word and before 으로/로 ("좌로", "우로 돌아").
BARE_SIDE_RE = r'(?<![가-힣])(?:왼|좌|오른|우)(?=으로|로(?!봇))'
_BARE_SWAP = {'왼': '오른', '오른': '왼', '좌': '우', '우': '좌'}
# The normaliser reads Korean with spaces and punctuation removed ("왼 쪽" is 왼쪽), so the
# swap tolerates them between syllables too.
_GAP = r'(?:[^\w]|_)*'

_SWAP = {'left': 'right', 'right': 'left'}
for _left, _right in SIDE_PAIRS_KO:
    _SWAP[_left], _SWAP[_right] = _right, _left
del _left, _right
_SWAP_RE = re.compile(
    '|'.join(_GAP.join(k) for k in sorted((k for k in _SWAP if not k.isascii()), key=len,
                                          reverse=True))
    + '|' + BARE_SIDE_RE + r'|(?<![A-Za-z])(?:left|right)(?![A-Za-z])', re.IGNORECASE)


def swap_sides(text: str) -> str:
    """Mirror an instruction: 왼쪽↔오른쪽, 왼편↔오른편, 좌측↔우측, ... (SIDE_PAIRS_KO), bare
    좌로↔우로, left↔right.

    Whole terms only (우회 "detour" is not a side), English case preserved. Used by the
    property test and usable for mirrored data augmentation.
    """
    def repl(m: 're.Match[str]') -> str:
        word = m.group(0)
        key = re.sub(r'[^\w]|_', '', word)
        out = _SWAP.get(key.lower()) or _BARE_SWAP[key]
        if word.isascii():
            if word.isupper():
                return out.upper()
            if word[0].isupper():
                return out.capitalize()
        return out
    return _SWAP_RE.sub(repl, text)


def _side_neutral(text: str) -> str:
    """The text with side words replaced by a placeholder: both mirrors share one key."""
    return _SWAP_RE.sub('<side>', text.lower())


def split_paraphrases(held_out_fraction: float = 0.25, seed: int = 0,
                      table: Optional[Dict[str, List[str]]] = None
                      ) -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
    """Deterministic train / held-out split of a paraphrase table (default `PARAPHRASES`).

    Per scenario, round(fraction * n) paraphrases (at least 1 when the fraction is > 0 and
    there are 2 or more) are held out, chosen by a SHA-256 rank of (seed, side-neutral text):
    the left and right versions of one phrasing land on the same side, so a held-out phrasing
    is unseen for both sides. The canonical Korean sentence always stays in train. The same
    seed always gives the same split, on every machine and Python version.
    Returns (train, held_out), each scenario -> list in the table's order.
    """
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f'held_out_fraction must be in [0, 1), got {held_out_fraction}')
    table = PARAPHRASES if table is None else table

    def rank(text: str) -> str:
        return hashlib.sha256(f'{seed}\x00{_side_neutral(text)}'.encode('utf-8')).hexdigest()

    # Rank the side-neutral phrasings once over the whole table, so mirrored scenarios agree.
    train: Dict[str, List[str]] = {}
    held: Dict[str, List[str]] = {}
    for sc, texts in table.items():
        canonical = scenario(sc).instruction_ko if sc in SCENARIOS else None
        candidates = [t for t in texts if t != canonical]
        n_held = int(round(held_out_fraction * len(texts)))
        if held_out_fraction > 0 and len(texts) >= 2:
            n_held = max(1, n_held)
        n_held = min(n_held, len(candidates))
        chosen = set(sorted(candidates, key=rank)[:n_held])
        train[sc] = [t for t in texts if t not in chosen]
        held[sc] = [t for t in texts if t in chosen]
    return train, held
