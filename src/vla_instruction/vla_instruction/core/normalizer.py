"""Korean / English / mixed instruction text -> structured task and canonical form (pure).

`normalize(text)` returns a `NormalizedInstruction`: status (understood, not understood, stop),
action (go_to, pick, place, stop), target object, obstacle kind and count, side, manoeuvre
(around, avoid, between), the scenario id when the instruction is one of the 8 navigation
scenarios, a canonical English instruction (for English-trained backbones), a canonical Korean
instruction, a confidence in [0, 1] and, when not understood, the reason.

How it reads text (no model, a lexicon + rules, so it is predictable and testable):
- NFKC (full-width digits, decomposed Hangul), lower case, punctuation dropped.
- Korean terms are matched on the text with spaces removed, so spacing variants
  ("가 주세요" / "가주세요", "두 박스" / "두박스") read the same; English terms are matched as
  whole words on the spaced text; mixed text ("box를 left로 돌아서 cup까지") works because
  English words are located in the spaced text and their Korean particles read in the compact.
- Stop words win over everything (fail-safe: "멈추지 마" also stops).
- Sides followed by 말고/아니고/아니라/대신 (or preceded by "not"/"instead of") are negated;
  a side directly describing an object ("왼쪽 박스", "왼쪽에 있는 컵") is a location, not the
  side to pass on. Two remaining different sides, two manoeuvres or two targets are
  contradictory: not understood, no motion.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Set, Tuple

from vla_common.scenarios import AROUND, AVOID, BETWEEN, find_scenario, LEFT, RIGHT, SIDE_KO
from vla_instruction.core.scenarios import (BARE_SIDE_RE, PARAPHRASES, SIDE_PAIRS_KO,
                                            split_paraphrases, swap_sides)

__all__ = [
    'Status', 'NormalizedInstruction', 'normalize', 'detect_language', 'find_stop_word',
    'STOP_WORDS_KO', 'STOP_WORDS_EN', 'TARGET_OBJECTS', 'GO_TO', 'PICK', 'PLACE', 'STOP',
    'LEFT', 'RIGHT', 'AROUND', 'AVOID', 'BETWEEN', 'PARAPHRASES', 'split_paraphrases',
    'swap_sides',
]

GO_TO = 'go_to'
PICK = 'pick'
PLACE = 'place'
STOP = 'stop'


class Status(str, enum.Enum):
    """What the normaliser made of an instruction."""

    UNDERSTOOD = 'understood'          # task fields and canonical are valid; the policy may act
    NOT_UNDERSTOOD = 'not_understood'  # unknown, empty or contradictory: no motion
    STOP = 'stop'                      # a stop word: engage the e-stop


@dataclass(frozen=True)
class NormalizedInstruction:
    """The structured reading of one instruction. Empty strings mean "not given"."""

    text: str                      # the original text, unchanged
    language: str                  # 'ko', 'en' or 'und'
    status: Status
    action: str = ''               # 'go_to', 'pick', 'place', 'stop'
    target_object: str = ''        # canonical English noun: 'cup', 'basket', ...
    held_object: str = ''          # for 'place': the object being put down
    obstacle: str = ''             # 'box' or 'obstacle'
    obstacle_count: int = 0
    side: str = ''                 # 'left' / 'right': the side to pass on / move towards
    maneuver: str = ''             # 'around', 'avoid', 'between'
    scenario: str = ''             # '1box_vert_left', ... when it is one of the 8 scenarios
    canonical: str = ''            # canonical English instruction ('' when not understood)
    canonical_ko: str = ''         # canonical Korean instruction ('' when not understood)
    confidence: float = 0.0        # [0, 1]
    reason: str = ''               # why not understood, or which stop word
    stop_word: str = ''            # the stop word found, as written
    notes: Tuple[str, ...] = field(default_factory=tuple)  # assumptions made while reading

    @property
    def understood(self) -> bool:
        return self.status is Status.UNDERSTOOD

    @property
    def is_stop(self) -> bool:
        return self.status is Status.STOP


# --------------------------------------------------------------------------- lexicon
#: Stop words (documented in docs/instruction.md). Korean ones are matched anywhere in the
#: space-free text, except the short ones in _STOP_KO_TOKENS: whole words only ("서" is
#: inside 돌아서 and 피해서) ...
STOP_WORDS_KO: Tuple[str, ...] = ('멈춰', '멈추', '멈춤', '멈처', '멈쳐', '멈출', '정지', '그만',
                                  '스톱', '스탑', '중지', '중단', '비상', '가만히')
_STOP_KO_TOKENS = ('서', '서라', '서요', '서세요', '잠깐', '잠깐만', '잠깐만요', '잠시만')
# ... and only in short utterances ("거기 서!"): "돌아 서 컵까지" (a spacing variant of 돌아서)
# must not stop the robot.
_SHORT_UTTERANCE_TOKENS = 3
STOP_WORDS_EN: Tuple[str, ...] = ('stop', 'halt', 'freeze', 'abort', 'estop', 'e-stop',
                                  'emergency', 'wait', 'hold on', "don't move", 'stay still',
                                  'whoa')

#: Objects: (Korean pattern on the space-free text, English pattern, canonical name).
#: Single-syllable Korean nouns need a particle or the end after them (공간, 문제, 병원).
_AFTER_1 = r'(?=까지|을|를|이|가|에|으로|로|쪽|앞|$)'
_OBJECTS: Sequence[Tuple[str, str, str]] = (
    (r'머그컵|머그잔|종이컵|물컵|컵', r'cups?|mugs?', 'cup'),
    (r'바구니|바스켓', r'baskets?|bins?', 'basket'),
    (r'물병|페트병|병' + _AFTER_1, r'bottles?', 'bottle'),
    (r'공' + _AFTER_1, r'balls?', 'ball'),
    (r'의자', r'chairs?', 'chair'),
    (r'책상|테이블|탁자', r'tables?|desks?', 'table'),
    (r'문' + _AFTER_1, r'doors?', 'door'),
    (r'충전기|충전소|충전스테이션|도킹스테이션', r'chargers?|charging\s+station|dock',
     'charger'),
    (r'박스|상자', r'box(?:es)?|crates?|cartons?', 'box'),
    (r'장애물', r'obstacles?', 'obstacle'),
)
OBSTACLES = ('box', 'obstacle')
TARGET_OBJECTS: Tuple[str, ...] = tuple(o[2] for o in _OBJECTS if o[2] not in OBSTACLES)

_KO_NAME = {'cup': '컵', 'basket': '바구니', 'bottle': '병', 'ball': '공', 'chair': '의자',
            'table': '테이블', 'door': '문', 'charger': '충전기', 'box': '박스',
            'obstacle': '장애물'}

_SIDES_KO = (('|'.join(sorted((p[0] for p in SIDE_PAIRS_KO), key=len, reverse=True)), LEFT),
             ('|'.join(sorted((p[1] for p in SIDE_PAIRS_KO), key=len, reverse=True)), RIGHT))
# Bare 좌/우/왼/오른 + 으로/로 only at the start of a word (spaced text).
_SIDES_KO_WORD = ((BARE_SIDE_RE.replace('왼|좌|오른|우', '왼|좌'), LEFT),
                  (BARE_SIDE_RE.replace('왼|좌|오른|우', '오른|우'), RIGHT))
_SIDES_EN = ((r'left', LEFT), (r'(?<!all\s)right(?!\s+(?:now|away))', RIGHT))

_MANEUVERS_KO = ((r'돌아서|돌아가|돌아|돌고|돌면서|둘러서|둘러|우회해서|우회하여|우회', AROUND),
                 (r'피해서|피해|피하|피헤|비켜서|비켜|비키|비껴|회피', AVOID),
                 (r'사이|가운데|중간', BETWEEN))
_MANEUVERS_EN = ((r'a?round|circl\w*|circumvent\w*|detour\w*|bypass\w*', AROUND),
                 (r'avoid\w*|dodg\w*|sidestep\w*|steer(?:ing)?\s+clear|evad\w*', AVOID),
                 (r'between|in\s+the\s+middle|through\s+the\s+(?:gap|middle)', BETWEEN))

_VERBS_KO = (
    (r'넣어|넣으|넣기|놓아|놓으|놔|내려놓|올려놓|올려|둬|두어|두세요|두십시오', PLACE),
    (r'집어|집으|잡아|잡으|들어올려|주워|줍|가져와|가져다', PICK),
    (r'가(?:세요|주세요|주실래요|줄래요|줄래|줘요|줘|라|자|요|십시오|봐요|봐|볼래요|볼래|렴|셔요|'
     r'셔|야지|야|는데|되|고|서|면|기)|갈래요|갈래|갑시다|가$|이동|움직|향해|향하|도착|다가가|'
     r'접근|주행|데려다', GO_TO),
)
_VERBS_EN = ((r'put|place|drop|insert', PLACE),
             (r'pick(?:\s+up)?|grab|grasp|fetch|bring', PICK),
             (r'go|goes|going|move|moving|drive|head|navigate|reach|approach|travel|proceed|'
              r'get\s+to|come|take', GO_TO))

# After a Korean noun: what makes it the destination.
_DEST_AFTER_KO = re.compile(r'(?:들)?(?:까지|에게|한테|쪽|방향|앞까지|앞으로|으로|로|에|있는곳|위치)')
# Before an English noun: what makes it the destination / the manipulated object.
_DEST_BEFORE_EN = re.compile(
    r'(?:to|towards?|reach(?:ing)?|into|in|onto|at|until|approach(?:ing)?)\s+'
    r'(?:the\s+|a\s+|an\s+)?$')
_OBJ_BEFORE_EN = re.compile(r'(?:put|place|drop|insert|pick\s+up|pick|grab|grasp|fetch|bring)'
                            r'\s+(?:the\s+|a\s+|an\s+)?$')
_OBJ_AFTER_KO = re.compile(r'(?:들)?(?:을|를)')

_NOUNS_KO = '|'.join(o[0] for o in _OBJECTS)
_NOUNS_EN = '|'.join(o[1] for o in _OBJECTS)
# A side that describes where an object is ("왼쪽 박스", "왼쪽에 있는 컵"), not where to pass.
_ATTRIBUTIVE_KO = re.compile(r'(?:에있는|에놓인|에위치한|쪽에있는|의)?(?:' + _NOUNS_KO
                             + r'|(?<![a-z])(?:' + _NOUNS_EN + r')(?![a-z]))')
_ATTRIBUTIVE_EN = re.compile(r'\s*(?:hand\s+)?(?:' + _NOUNS_EN + r')(?![a-z])')
_NEGATED_AFTER_KO = re.compile(r'(?:이|은|는|으로|로|에)?(?:말고|말구|아니고|아니라|아니야|아닌|'
                               r'대신|빼고)')
_NEGATED_BEFORE_EN = re.compile(r'(?:not|never|instead\s+of|rather\s+than|no)\s+'
                                r'(?:(?:go|to|on|the|towards?|via|pass|move)\s+)*$')

# Counts around an obstacle noun.
_COUNT_WORDS = {'한': 1, '하나': 1, '하나의': 1, '한개': 1, '한개의': 1, '단': 1,
                '두': 2, '둘': 2, '둘의': 2, '두개': 2, '두개의': 2, '양': 2,
                '세': 3, '셋': 3, '셋의': 3, '세개': 3, '세개의': 3,
                'one': 1, 'a': 1, 'an': 1, 'single': 1, 'two': 2, 'both': 2, 'pair': 2,
                'couple': 2, 'three': 3}
_COUNT_BEFORE_KO = re.compile(r'(한|하나의|두|둘의|세|셋의|양|\d+)(?:개의|개)?$')
_COUNT_AFTER_KO = re.compile(r'(?:들)?(?:을|를|이|가|은|는)?(하나|둘|셋|한개|두개|세개|\d+)(개)?')
_COUNT_BEFORE_EN = re.compile(r'(?<![a-z0-9])(one|a|an|single|two|both|three|\d+|pair|couple)'
                              r'(?:\s+of)?\s+(?:the\s+)?$')

# Particles, endings and discourse words that carry no task information (for confidence).
_FILLERS_KO = sorted(set(
    '으로 로 까지 을 를 이 가 은 는 에 에게 한테 의 도 만 들 쪽 쪽으로 방향 방향으로 경로 경로로 길 '
    '길로 옆 옆으로 따라 따라서 타고 통해 통해서 지나 지나서 지나가 거쳐 서 고 해서 해 하고 하여 '
    '하세요 해요 해줘 해주세요 해라 요 세요 주세요 줘 줄래 라 래 자 십시오 좀 제발 로봇 로봇아 '
    '야 아 빨리 천천히 조심히 조심해서 그리고 다음 다음에 그다음 그다음에 후 후에 뒤에 먼저 있는 '
    '곳 위치 있는곳 데 는데 되 가는데 가되 개 개의 측 편 면서 다가 죠 봐 볼래 게 빙 앞 앞으로 '
    '앞까지 정도 그 저 이 번 한번 쭉 계속 가서 거기 여기 저기 잘 안전하게 부탁해 부탁해요 '
    '부탁합니다 줄래요 주실래요 할래 해볼래 것 거 채로 상태로 양쪽 말고 말구 아니고 아니라 아니야 '
    '아닌 대신 대신에 빼고 이랑 랑 와 과 하고 및'.split()),
    key=len, reverse=True)
_KNOWN_EN = set(
    'the a an to of on in at by via please robot hey then and side path way its it through '
    'toward towards until route lane first next after that this go move moving reach take '
    'taking pass passing keep while with from your you can could would now okay ok so also '
    'get there here straight ahead forward into onto up not instead rather than no'.split())

_HANGUL = re.compile(r'[가-힣]')
_LATIN = re.compile(r'[a-z]', re.IGNORECASE)


# --------------------------------------------------------------------------- text handling
class _Text:
    """Prepared text: `spaced` (NFKC, lower case, no punctuation) and `compact` (no spaces),
    with a map between them and a coverage mask over `compact`."""

    def __init__(self, original: str) -> None:
        t = unicodedata.normalize('NFKC', original).lower()
        t = re.sub(r'[^\w\s]|_', ' ', t)
        self.spaced = re.sub(r'\s+', ' ', t).strip()
        self.to_compact: List[int] = []
        compact: List[str] = []
        for ch in self.spaced:
            self.to_compact.append(len(compact))
            if ch != ' ':
                compact.append(ch)
        self.to_compact.append(len(compact))
        self.compact = ''.join(compact)
        self.covered = [False] * len(self.compact)

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


@dataclass
class _Mention:
    kind: str            # 'side', 'maneuver', 'object', 'verb'
    value: str
    start: int           # compact coordinates
    end: int
    spaced_start: int = -1   # spaced coordinates (English matches only)
    spaced_end: int = -1
    english: bool = False
    negated: bool = False
    attributive: bool = False
    role: str = ''       # objects: 'dest', 'obj' or ''
    surface: str = ''


def _en(pattern: str) -> str:
    return r'(?<![a-z])(?:' + pattern + r')(?![a-z])'


def _find(text: _Text, kind: str, ko: Sequence[Tuple[str, str]],
          en: Sequence[Tuple[str, str]], ko_word: Sequence[Tuple[str, str]] = ()
          ) -> List[_Mention]:
    """All non-overlapping mentions of `kind`; marks them covered."""
    found: List[_Mention] = []
    for pattern, value in ko:
        for m in re.finditer(pattern, text.compact):
            if text.free(m.start(), m.end()):
                text.cover(m.start(), m.end())
                found.append(_Mention(kind, value, m.start(), m.end(), surface=m.group(0)))
    for patterns, english in ((ko_word, False), (en, True)):
        for pattern, value in patterns:
            regex = _en(pattern) if english else pattern
            for m in re.finditer(regex, text.spaced):
                start, end = text.compact_span(m.start(), m.end())
                if text.free(start, end):
                    text.cover(start, end)
                    found.append(_Mention(kind, value, start, end, m.start(), m.end(),
                                          english=english, surface=m.group(0)))
    found.sort(key=lambda mention: mention.start)
    return found


def detect_language(text: str) -> str:
    """'ko' if the text has Hangul (mixed Korean-English counts as Korean), 'en' if it has
    Latin letters only, 'und' otherwise."""
    t = unicodedata.normalize('NFKC', text)
    if _HANGUL.search(t):
        return 'ko'
    if _LATIN.search(t):
        return 'en'
    return 'und'


_STOP_KO_RE = re.compile('|'.join(sorted(STOP_WORDS_KO, key=len, reverse=True)))
_STOP_EN_RE = re.compile(_en(r'stop\w*|halt\w*|freeze|abort\w*|e\s?stop|emergency|wait|'
                             r'hold\s+on|don\s?t\s+move|stay\s+still|whoa'))


def find_stop_word(text: str) -> str:
    """The first stop word in `text` as written (normalised), or '' when there is none."""
    prepared = _Text(text)
    candidates: List[Tuple[int, str]] = []
    m = _STOP_KO_RE.search(prepared.compact)
    if m:
        candidates.append((m.start(), m.group(0)))
    m = _STOP_EN_RE.search(prepared.spaced)
    if m:
        candidates.append((prepared.to_compact[m.start()], m.group(0)))
    tokens = prepared.tokens()
    if len(tokens) <= _SHORT_UTTERANCE_TOKENS:
        position = 0
        for token in tokens:
            if token in _STOP_KO_TOKENS:
                candidates.append((prepared.to_compact[position], token))
                break
            position += len(token) + 1
    return min(candidates)[1] if candidates else ''


# --------------------------------------------------------------------------- reading
def _not_understood(base: NormalizedInstruction, reason: str,
                    **fields: object) -> NormalizedInstruction:
    return replace(base, status=Status.NOT_UNDERSTOOD, reason=reason, canonical='',
                   canonical_ko='', scenario='', confidence=0.0, **fields)


def _mark_sides(text: _Text, sides: List[_Mention]) -> None:
    for s in sides:
        if s.english:
            before = text.spaced[:s.spaced_start]
            s.negated = bool(_NEGATED_BEFORE_EN.search(before))
            s.attributive = bool(_ATTRIBUTIVE_EN.match(text.spaced, s.spaced_end))
        else:
            s.negated = bool(_NEGATED_AFTER_KO.match(text.compact, s.end))
            s.attributive = bool(_ATTRIBUTIVE_KO.match(text.compact, s.end))
        # Korean negation also applies to English side words in mixed text ("left 말고").
        if s.english and not s.negated:
            s.negated = bool(_NEGATED_AFTER_KO.match(text.compact, s.end))


def _mark_objects(text: _Text, objects: List[_Mention]) -> None:
    for o in objects:
        if _DEST_AFTER_KO.match(text.compact, o.end):
            o.role = 'dest'
        elif _OBJ_AFTER_KO.match(text.compact, o.end):
            o.role = 'obj'
        if o.english:
            before = text.spaced[:o.spaced_start]
            if _DEST_BEFORE_EN.search(before):
                o.role = 'dest'
            elif _OBJ_BEFORE_EN.search(before):
                o.role = 'obj'


def _obstacle_count(text: _Text, obstacle: _Mention) -> Tuple[Optional[int], str]:
    """Explicit count around an obstacle mention (None when not given) and how it was read."""
    m = _COUNT_AFTER_KO.match(text.compact, obstacle.end)
    if m:
        word = m.group(1)
        value = int(word) if word.isdigit() else _COUNT_WORDS.get(word)
        if value is not None and (not word.isdigit() or m.group(2) or
                                  m.end() == len(text.compact)):
            text.cover(m.start(1), m.end())
            return value, word
    if obstacle.english:
        m = _COUNT_BEFORE_EN.search(text.spaced[:obstacle.spaced_start])
        if m:
            word = m.group(1)
            value = int(word) if word.isdigit() else _COUNT_WORDS[word]
            start, end = text.compact_span(m.start(1), m.end(1))
            text.cover(start, end)
            return value, word
    m = _COUNT_BEFORE_KO.search(text.compact[:obstacle.start])
    if m and text.free(m.start(), m.end()):
        word = m.group(1)
        value = int(word) if word.isdigit() else _COUNT_WORDS[word]
        text.cover(m.start(), m.end())
        return value, word
    plural = text.compact.startswith('들', obstacle.end) or (
        obstacle.english and re.search(r'(?:es|s)$', obstacle.surface) is not None)
    if plural:
        return 2, obstacle.surface + (' (plural)' if obstacle.english else '들')
    return None, ''


def _unknown_ratio(text: _Text) -> float:
    """Share of letters and digits that no lexicon entry, particle or ending explains."""
    total = sum(1 for ch in text.compact if ch.isalnum())
    if total == 0:
        return 0.0
    unknown = 0
    # English words: known filler or covered.
    position = 0
    english_spans: List[Tuple[int, int]] = []
    for token in text.tokens():
        for m in re.finditer(r'[a-z]+', token):
            start = text.to_compact[position + m.start()]
            end = text.to_compact[position + m.end()]
            english_spans.append((start, end))
            if text.free(start, end) and m.group(0) not in _KNOWN_EN:
                unknown += end - start
        position += len(token) + 1
    mask = list(text.covered)
    for start, end in english_spans:
        for i in range(start, end):
            mask[i] = True
    i = 0
    n = len(text.compact)
    while i < n:
        if mask[i]:
            i += 1
            continue
        j = i
        while j < n and not mask[j]:
            j += 1
        run = text.compact[i:j]
        k = 0
        while k < len(run):
            for filler in _FILLERS_KO:
                if run.startswith(filler, k):
                    k += len(filler)
                    break
            else:
                if run[k].isalnum():
                    unknown += 1
                k += 1
        i = j
    return min(1.0, unknown / total)


def _josa(word: str, with_final: str, without_final: str, rieul_as_without: bool = False
          ) -> str:
    """Pick a Korean particle by the final consonant (받침) of the last syllable of `word`."""
    last = word[-1]
    if not '가' <= last <= '힣':
        return without_final
    final = (ord(last) - 0xAC00) % 28
    if final == 0 or (rieul_as_without and final == 8):
        return without_final
    return with_final


def _obstacle_phrase_en(kind: str, count: int) -> str:
    if count <= 1:
        return f'the {kind}'
    number = {2: 'two', 3: 'three'}.get(count, str(count))
    plural = 'boxes' if kind == 'box' else kind + 's'
    return f'the {number} {plural}'


def _obstacle_phrase_ko(kind: str, count: int) -> str:
    name = _KO_NAME[kind]
    if count <= 1:
        return name
    number = {2: '두', 3: '세'}.get(count)
    return f'{number} {name}' if number else f'{count}개의 {name}'


def _canonical(action: str, target: str, held: str, obstacle: str, count: int, side: str,
               maneuver: str) -> Tuple[str, str]:
    """(English, Korean) canonical instruction for the structured task."""
    if action == PICK:
        name = _KO_NAME[target]
        return f'pick up the {target}', f'{name}{_josa(name, "을", "를")} 집으세요'
    if action == PLACE:
        name = _KO_NAME[target]
        if held:
            held_ko = _KO_NAME[held]
            return (f'put the {held} in the {target}',
                    f'{held_ko}{_josa(held_ko, "을", "를")} {name}에 넣으세요')
        return f'put it in the {target}', f'{name}에 넣으세요'
    en: List[str] = []
    ko = ''
    side_ko = SIDE_KO.get(side, '')
    side_ko_ro = side_ko + _josa(side_ko, '으로', '로', True) if side else ''
    if obstacle:
        obst_en = _obstacle_phrase_en(obstacle, count)
        obst_ko = _obstacle_phrase_ko(obstacle, count)
        obj_ko = obst_ko + _josa(obst_ko, '을', '를')
        if maneuver == AROUND:
            en.append(f'go around the {side} side of {obst_en}' if side
                      else f'go around {obst_en}')
            ko = f'{obj_ko} {side_ko_ro} 돌아서 ' if side else f'{obj_ko} 돌아서 '
        elif maneuver == AVOID:
            en.append(f'move {side} to avoid {obst_en}' if side else f'avoid {obst_en}')
            ko = f'{obj_ko} {side_ko_ro} 피해서 ' if side else f'{obj_ko} 피해서 '
        elif maneuver == BETWEEN:
            en.append(f'take the {side} path between {obst_en}' if side
                      else f'go between {obst_en}')
            ko = f'{obst_ko} 사이 {side_ko} 경로로 ' if side else f'{obst_ko} 사이로 '
        elif side:
            en.append(f'pass {obst_en} on the {side}')
            ko = f'{obj_ko} {side_ko_ro} 지나서 '
    elif maneuver:
        phrase = {AROUND: 'go around', AVOID: 'avoid the obstacle',
                  BETWEEN: 'go through the middle'}[maneuver]
        en.append(phrase + (f' on the {side}' if side else ''))
        word = {AROUND: '돌아서', AVOID: '피해서', BETWEEN: '가운데로'}[maneuver]
        ko = (f'{side_ko_ro} ' if side else '') + f'{word} '
    elif side:
        en.append(f'go {side}')
        ko = f'{side_ko_ro} '
    if target:
        en.append(f'go to the {target}')
        ko += f'{_KO_NAME[target]}까지 가세요'
    else:
        ko += '가세요'
    return ', then '.join(en), ko


def normalize(text: str) -> NormalizedInstruction:
    """Read one instruction (Korean, English or mixed). Never raises on any string."""
    text = text if isinstance(text, str) else str(text)
    base = NormalizedInstruction(text=text, language=detect_language(text),
                                 status=Status.NOT_UNDERSTOOD)
    prepared = _Text(text)
    if not any(ch.isalnum() for ch in prepared.compact):
        return _not_understood(base, 'empty instruction')

    stop_word = find_stop_word(text)
    if stop_word:
        return replace(base, status=Status.STOP, action=STOP, canonical='stop',
                       canonical_ko='멈추세요', confidence=1.0, stop_word=stop_word,
                       reason=f'stop word {stop_word!r}')

    sides = _find(prepared, 'side', _SIDES_KO, _SIDES_EN, _SIDES_KO_WORD)
    maneuvers = _find(prepared, 'maneuver', _MANEUVERS_KO, _MANEUVERS_EN)
    objects = _find(prepared, 'object', [(o[0], o[2]) for o in _OBJECTS],
                    [(o[1], o[2]) for o in _OBJECTS])
    verbs = _find(prepared, 'verb', _VERBS_KO, _VERBS_EN)
    _mark_sides(prepared, sides)
    _mark_objects(prepared, objects)
    notes: List[str] = []

    # Side.
    active_sides = [s for s in sides if not s.negated and not s.attributive]
    side_values = sorted({s.value for s in active_sides})
    for s in sides:
        if s.negated:
            notes.append(f'side {s.surface!r} negated')
        elif s.attributive:
            notes.append(f'side {s.surface!r} describes an object, not the side to pass')
    if len(side_values) > 1:
        words = ', '.join(repr(s.surface) for s in active_sides)
        return _not_understood(base, f'contradictory sides: {words}')
    side = side_values[0] if side_values else ''

    # Manoeuvre.
    maneuver_values = sorted({m.value for m in maneuvers})
    if len(maneuver_values) > 1:
        words = ', '.join(repr(m.surface) for m in maneuvers)
        return _not_understood(base, f'contradictory manoeuvres: {words}')
    maneuver = maneuver_values[0] if maneuver_values else ''

    # Action.
    verb_values = {v.value for v in verbs}
    action = PLACE if PLACE in verb_values else PICK if PICK in verb_values else GO_TO

    # Objects: obstacles vs target (vs held object when placing).
    things = [o for o in objects if o.value not in OBSTACLES]
    obstacles = [o for o in objects if o.value in OBSTACLES]
    if not things and action == GO_TO:
        dest_obstacles = [o for o in obstacles if o.role == 'dest']
        if dest_obstacles and not maneuver:
            things = dest_obstacles
            obstacles = [o for o in obstacles if o.role != 'dest']
    held = ''
    if action == PLACE:
        held_mentions = [o for o in things if o.role == 'obj']
        dest_mentions = [o for o in things if o.role == 'dest'] or \
            [o for o in things if o.role != 'obj']
        held = held_mentions[0].value if held_mentions else ''
        target_values = sorted({o.value for o in dest_mentions})
    else:
        target_values = sorted({o.value for o in things})
    if len(target_values) > 1:
        return _not_understood(base, 'several targets: ' + ', '.join(target_values))
    target = target_values[0] if target_values else ''

    obstacle = ''
    count = 0
    if obstacles:
        obstacle = 'box' if any(o.value == 'box' for o in obstacles) else 'obstacle'
        explicit: Dict[int, str] = {}
        for o in obstacles:
            value, word = _obstacle_count(prepared, o)
            if value is not None:
                explicit.setdefault(value, word)
        if len(explicit) > 1:
            words = ', '.join(repr(w) for w in explicit.values())
            return _not_understood(base, f'contradictory obstacle counts: {words}')
        if explicit:
            count = next(iter(explicit))
        elif maneuver == BETWEEN:
            count = 2
            notes.append('two obstacles assumed from "between"')
        else:
            count = 1
        if count < 1:
            return _not_understood(base, f'obstacle count {count} makes no sense')
        if maneuver == BETWEEN and count < 2:
            return _not_understood(base, f'"between" needs two obstacles, {count} given')

    # Is there anything to do?
    if action in (PICK, PLACE) and not target:
        return _not_understood(base, f'{action} without an object',
                               action=action)
    if action == GO_TO and not (target or side or maneuver):
        return _not_understood(
            base, 'no target, direction or manoeuvre recognised'
            + (f' (only {", ".join(o.surface for o in obstacles)})' if obstacles else ''))

    confidence = 1.0
    if not verbs:
        confidence *= 0.9
        notes.append('no verb: motion assumed')
    if action == GO_TO and not target:
        confidence *= 0.7
        notes.append('no target object')
    if maneuver == BETWEEN and 'two obstacles assumed from "between"' in notes:
        confidence *= 0.95
    unknown = _unknown_ratio(prepared)
    if unknown > 0:
        confidence *= 1.0 - 0.5 * unknown
        notes.append(f'{unknown:.0%} of the text not recognised')

    scenario = ''
    if action == GO_TO and target == 'cup' and obstacle:
        entry = find_scenario(count, maneuver, side)
        scenario = entry.id if entry else ''
    canonical, canonical_ko = _canonical(action, target, held, obstacle, count, side, maneuver)
    return replace(base, status=Status.UNDERSTOOD, action=action, target_object=target,
                   held_object=held, obstacle=obstacle, obstacle_count=count, side=side,
                   maneuver=maneuver, scenario=scenario, canonical=canonical,
                   canonical_ko=canonical_ko, confidence=round(confidence, 3),
                   notes=tuple(notes))


def normalize_many(texts: Sequence[str]) -> List[NormalizedInstruction]:
    """`normalize` over a sequence (convenience for datasets)."""
    return [normalize(t) for t in texts]


def scenarios_of(texts: Sequence[str]) -> Set[str]:
    """The set of scenario ids a list of texts normalises to (empty ids dropped)."""
    return {n.scenario for n in normalize_many(texts) if n.scenario}
