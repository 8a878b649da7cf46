"""Korean / English / mixed instruction text -> structured task and canonical form (pure).

`normalize(text)` returns a `NormalizedInstruction`: status (understood, refused, not
understood, stop), action (go_to, pick, place, stop; move, place, reach on the table), target
object, obstacle kind and count, side, manoeuvre (around, avoid, between), the scenario id
when the instruction is one of the 8 navigation scenarios or one of the arm's tabletop tasks
(`vla_common.arm_tasks`), a canonical English instruction (for English-trained backbones), a
canonical Korean instruction, a confidence in [0, 1] and, when not acted on, a refusal
category and the reason.

How it reads text (no model, a lexicon + rules, so it is predictable and testable):
- NFKC (full-width digits, decomposed Hangul), lower case, punctuation dropped (`text.py`).
- Korean terms are matched on the text with spaces removed, so spacing variants
  ("가 주세요" / "가주세요", "두 박스" / "두박스") read the same; English terms are matched as
  whole words on the spaced text; mixed text ("box를 left로 돌아서 cup까지") works because
  English words are located in the spaced text and their Korean particles read in the compact.
- Stop words win over everything (fail-safe: "멈추지 마" also stops).
- Then the acceptance policy (`acceptance.py`, docs/instruction.md): bad input, prohibitions
  and negations anywhere, questions, conditions and reports are refused before any task is
  read.
- Sides followed by 말고/아니고/아니라/대신 (or preceded by "not"/"instead of") are negated;
  a side directly describing an object ("왼쪽 박스", "왼쪽에 있는 컵") is a location, not the
  side to pass on; after a correction marker (아니, "no,") the last side applies. Two remaining
  different sides, two manoeuvres or two targets are a conflict: refused, no motion.
- Closed world: every word must be explained by the lexicon, a particle, an ending or a filler;
  one-character typos of known words are corrected first (`typos.py`). Anything else is not
  understood, and a noun in the destination slot that the lexicon does not know (or that is
  not in `known_targets`) is an unknown target.
- A sentence about the table (a colour, a block, the tray, a plate, the hand, 옮기다:
  `tabletop.mentions_tabletop`) is read by `_read_tabletop` against the arm's task table after
  the same stop-word, acceptance and side rules: an object that is not on the table
  ("보라색 컵", "빨간 블록", an unknown noun) is an unknown target, a combination the table has
  no task for is not understood.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

from vla_instruction.core.acceptance import (CATEGORIES, check_input, CONFLICT,
                                             english_no_interjections, LOW_CONFIDENCE,
                                             NOT_UNDERSTOOD,
                                             PROHIBITION, Refusal, refuse_sentence,
                                             UNKNOWN_TARGET)
from vla_common.scenarios import AROUND, AVOID, BETWEEN, find_scenario, LEFT, RIGHT, SIDE_KO

from vla_instruction.core.scenarios import (BARE_SIDE_RE, PARAPHRASES, SIDE_PAIRS_KO,
                                            split_paraphrases, swap_sides)
from vla_instruction.core import tabletop
from vla_instruction.core.text import PreparedText, spaced_and_compact
from vla_instruction.core.typos import TypoCorrector

__all__ = [
    'Status', 'NormalizedInstruction', 'normalize', 'refusal', 'with_asr_confidence',
    'detect_language', 'find_stop_word',
    'STOP_WORDS_KO', 'STOP_WORDS_EN', 'TARGET_OBJECTS', 'KNOWN_TARGETS', 'CATEGORIES',
    'GO_TO', 'PICK', 'PLACE', 'STOP', 'MOVE', 'REACH', 'LEFT', 'RIGHT', 'AROUND', 'AVOID',
    'BETWEEN', 'TABLETOP_OBJECTS',
    'PARAPHRASES', 'split_paraphrases', 'swap_sides',
]

GO_TO = 'go_to'
PICK = 'pick'
PLACE = 'place'
STOP = 'stop'
MOVE = 'move'      # tabletop: pick an object up and put it down to a side
REACH = 'reach'    # tabletop: bring the hand above an object


class Status(str, enum.Enum):
    """What the normaliser made of an instruction."""

    UNDERSTOOD = 'understood'          # task fields and canonical are valid; the policy may act
    NOT_UNDERSTOOD = 'not_understood'  # words it cannot explain, or no task: no motion
    STOP = 'stop'                      # a stop word: engage the e-stop
    REFUSED = 'refused'                # read, and not to be acted on (category + reason)


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
    scenario: str = ''             # '1box_vert_left', ... (one of the 8 scenarios) or an arm
    #                                task ('blue_block_tray', ...: vla_common.arm_tasks)
    canonical: str = ''            # canonical English instruction ('' when not understood)
    canonical_ko: str = ''         # canonical Korean instruction ('' when not understood)
    confidence: float = 0.0        # [0, 1]
    category: str = ''             # refused / not understood: acceptance.CATEGORIES
    reason: str = ''               # why refused or not understood, or which stop word
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
#: Every object the lexicon reads (canonical English names) ...
TARGET_OBJECTS: Tuple[str, ...] = (tuple(o[2] for o in _OBJECTS if o[2] not in OBSTACLES)
                                   + tabletop.TABLETOP_OBJECTS)
#: The arm's tabletop objects and receptacles ('red_cup', ..., 'tray', 'left_plate', ...).
TABLETOP_OBJECTS: Tuple[str, ...] = tabletop.TABLETOP_OBJECTS
#: ... and the ones this robot can act on by default (the shipped policies are trained on the
#: cup only). Anything else is an unknown target; instruction_node's `known_targets` widens it.
KNOWN_TARGETS: Tuple[str, ...] = ('cup',)

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
                 (r'피해서|피해|피하|피한|피헤|비켜서|비켜|비키|비껴|회피', AVOID),
                 (r'사이|가운데|중간', BETWEEN))
_MANEUVERS_EN = ((r'a?round|circl\w*|circumvent\w*|detour\w*|bypass\w*', AROUND),
                 (r'avoid\w*|dodg\w*|sidestep\w*|steer(?:ing)?\s+clear|evad\w*', AVOID),
                 (r'between|in\s+the\s+middle|through\s+the\s+(?:gap|middle)', BETWEEN))

# Benefactive requests (가 주세요, 가 주시겠어요?, 가 줄 수 있어요?): commands, also as questions.
_REQUEST_ENDINGS = ('주세요|주실래요|주시겠어요|주시겠습니까|주시겠어|주겠어|주겠니|주실수있나요|'
                    '주실수있어요|주실수있습니까|주실수있을까요|줄수있어요|줄수있어|줄수있니|줄수있나요')
_VERBS_KO = (
    (r'넣어|넣으|넣기|놓아|놓으|놔|내려놓|올려놓|올려|둬|두어|두세요|두십시오', PLACE),
    (r'집어|집으|잡아|잡으|들어올려|주워|줍|가져와|가져다', PICK),
    (r'가(?:세요|' + _REQUEST_ENDINGS + r'|줄래요|줄래|줘요|줘|라|자|요|십시오|봐요|봐|볼래요|볼래|렴|'
     r'셔요|셔|야지|야|는데|되|고|서|면|기)|갈래요|갈래|갑시다|가$|이동|움직|향해|향하|도착|다가가|'
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
# A destination particle ending an unexplained run ("냉장고까지"): an unknown target.
_DEST_SUFFIX_KO = re.compile(r'(?:까지|에게|한테|쪽으로|쪽|방향으로|으로|로|에)$')
# After a Korean noun / before an English one: where to move away from, not to.
_SOURCE_AFTER_KO = re.compile(r'(?:들)?(?:에서|로부터|으로부터|에게서|한테서)')
_SOURCE_BEFORE_EN = re.compile(r'(?:from|off)\s+(?:the\s+|a\s+|an\s+)?$')
# "컵을 향해 가": the object of 향하다 is the destination.
_TOWARDS_AFTER_OBJ_KO = re.compile(r'(?:들)?(?:을|를)(?:향해|향하|목표로)')
# An object that is avoided or passed, not reached ("avoid the cup", "go past the cup").
_AVOIDED_BEFORE_EN = re.compile(
    r'(?:a?round|circl\w*|circumvent\w*|detour\w*|bypass\w*|avoid\w*|dodg\w*|sidestep\w*|'
    r'steer(?:ing)?\s+clear\s+of|evad\w*|pass(?:ing)?|past|by|beyond|behind)\s+'
    r'(?:the\s+|a\s+|an\s+)?$')

_NOUNS_KO = '|'.join(o[0] for o in _OBJECTS)
_NOUNS_EN = '|'.join(o[1] for o in _OBJECTS)
# A side that describes where an object is ("왼쪽 박스", "왼쪽에 있는 컵"), not where to pass.
_ATTRIBUTIVE_KO = re.compile(r'(?:에있는|에놓인|에위치한|쪽에있는|의)?(?:' + _NOUNS_KO
                             + r'|(?<![a-z])(?:' + _NOUNS_EN + r')(?![a-z]))')
_ATTRIBUTIVE_EN = re.compile(r'\s*(?:hand\s+)?(?:' + _NOUNS_EN + r')(?![a-z])')
_NEGATED_AFTER_KO = re.compile(r'(?:이|은|는|으로|로|에|까지)?(?:말고|말구|아니고|아니라|아니야|'
                               r'아닌|아냐|아니|대신|빼고)')
# Correction markers: after one, the last side given applies ("왼쪽으로, 아니 오른쪽으로").
_CORRECTION_KO = re.compile(r'(?<![가-힣])(?:아니아니|아니요|아니야|아니|아냐|아뇨)(?![가-힣])')
_CORRECTION_EN = re.compile(r'(?<![a-z])(?:i\s+mean|correction)(?![a-z])')
# (A "no" before a side is refused, not read as a negation: "left no right" may be a correction
# with the comma lost in transcription. acceptance._EN_PROHIBITION.)
_NEGATED_BEFORE_EN = re.compile(r'(?:not|instead\s+of|rather\s+than)\s+'
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
    '부탁합니다 줄래요 할래 해볼래 것 거 채로 상태로 양쪽 다 모두 전부 나서 난 살짝 있잖아 돼 돼요 '
    '됩니다 된다 말고 말구 아니고 아니라 아니야 '
    '아닌 대신 대신에 빼고 이랑 랑 와 과 하고 및 아니 아냐 아니요 아뇨 향해 향해서 목표로'.split()
    + _REQUEST_ENDINGS.split('|')),
    key=len, reverse=True)
_KNOWN_EN = set(
    'the a an to of on in at by via please robot hey then and side path way its it through '
    'toward towards until route lane first next after that this go move moving reach take '
    'taking pass passing keep while with from your you can could would now okay ok so also '
    'get there here straight ahead forward into onto up not instead rather than no i mean '
    'sorry correction them right away'.split())

_HANGUL = re.compile(r'[가-힣]')
_LATIN = re.compile(r'[a-z]', re.IGNORECASE)


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


def _find(text: PreparedText, kind: str, ko: Sequence[Tuple[str, str]],
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
    """The first stop word in `text` as written (normalised), or '' when there is none.

    Runs on every text however long (stopping is always safe), so it uses the views of
    `PreparedText` without building its per-character maps."""
    spaced, compact = spaced_and_compact(text)
    candidates: List[Tuple[int, str]] = []
    m = _STOP_KO_RE.search(compact)
    if m:
        candidates.append((m.start(), m.group(0)))
    m = _STOP_EN_RE.search(spaced)
    if m:
        candidates.append((m.start() - spaced.count(' ', 0, m.start()), m.group(0)))
    tokens = spaced.split(' ') if spaced else []
    if len(tokens) <= _SHORT_UTTERANCE_TOKENS:
        position = 0
        for token in tokens:
            if token in _STOP_KO_TOKENS:
                candidates.append((position, token))
                break
            position += len(token)
    return min(candidates)[1] if candidates else ''


# --------------------------------------------------------------------------- reading
def _refused(base: NormalizedInstruction, refusal: Refusal,
             notes: Sequence[str] = ()) -> NormalizedInstruction:
    """No motion: no task fields, no canonical, zero confidence, a category and a reason."""
    status = Status.NOT_UNDERSTOOD if refusal.category == NOT_UNDERSTOOD else Status.REFUSED
    return replace(base, status=status, category=refusal.category, reason=refusal.reason,
                   notes=tuple(notes))


def _mark_sides(text: PreparedText, sides: List[_Mention]) -> None:
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


def _mark_objects(text: PreparedText, objects: List[_Mention]) -> None:
    for o in objects:
        if _NEGATED_AFTER_KO.match(text.compact, o.end):
            o.role = 'negated'
        elif _SOURCE_AFTER_KO.match(text.compact, o.end):
            o.role = 'source'
        elif _DEST_AFTER_KO.match(text.compact, o.end):
            o.role = 'dest'
        elif _TOWARDS_AFTER_OBJ_KO.match(text.compact, o.end):
            o.role = 'dest'
        elif _OBJ_AFTER_KO.match(text.compact, o.end):
            o.role = 'obj'
        if o.english:
            before = text.spaced[:o.spaced_start]
            if _NEGATED_BEFORE_EN.search(before):
                o.role = 'negated'
            elif _SOURCE_BEFORE_EN.search(before):
                o.role = 'source'
            elif _AVOIDED_BEFORE_EN.search(before):
                o.role = 'avoided'
            elif _DEST_BEFORE_EN.search(before):
                o.role = 'dest'
            elif _OBJ_BEFORE_EN.search(before):
                o.role = 'obj'


def _correction_markers(text: PreparedText) -> List[Tuple[int, str]]:
    """(compact offset, word) of each correction marker (아니, "no,", "i mean"), in order."""
    marks = [(text.to_compact[m.start()], m.group(0))
             for regex in (_CORRECTION_KO, _CORRECTION_EN) for m in regex.finditer(text.spaced)]
    return sorted(marks + [(at, 'no') for at in english_no_interjections(text)])


def _obstacle_count(text: PreparedText, obstacle: _Mention) -> Tuple[Optional[int], str]:
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


@dataclass(frozen=True)
class _Unexplained:
    """What the lexicon did not read: the uncovered Korean runs, the letters in them that no
    particle, ending or filler explains either, and the unknown English words."""

    runs: Tuple[Tuple[int, int], ...]             # compact (start, end): worth a typo search
    korean: Tuple[Tuple[int, int, int, int], ...]   # (run start, run end, first, last + 1)
    english: Tuple[Tuple[str, int, int], ...]       # (word, spaced start, spaced end)

    def __bool__(self) -> bool:
        return bool(self.korean or self.english)

    def words(self, text: PreparedText) -> List[str]:
        """The words (as spaced in the text) that hold unexplained letters."""
        found = [token for token, start, end in text.token_spans()
                 if any(lo < end and start < hi for _, _, lo, hi in self.korean)]
        return found + [word for word, _, _ in self.english if word not in ' '.join(found)]


def _unexplained(text: PreparedText, fillers: Sequence[str] = (),
                 known_en: FrozenSet[str] = frozenset()) -> _Unexplained:
    """The closed-world check: which letters nothing explains (see the module docstring)."""
    english: List[Tuple[str, int, int]] = []
    mask = list(text.covered)
    for m in re.finditer(r'[a-z]+', text.spaced):
        start, end = text.compact_span(m.start(), m.end())
        for i in range(start, end):
            mask[i] = True
        if text.free(start, end) and m.group(0) not in (known_en or _KNOWN_EN):
            english.append((m.group(0), m.start(), m.end()))
    runs: List[Tuple[int, int]] = []
    korean: List[Tuple[int, int, int, int]] = []
    i, n = 0, len(text.compact)
    while i < n:
        if mask[i]:
            i += 1
            continue
        j = i
        while j < n and not mask[j]:
            j += 1
        unknown: List[int] = []
        k = i
        singles = weak = 0     # consecutive one-syllable fillers: 도라서 = 도 + 라 + 서
        while k < j:
            for filler in fillers or _FILLERS_KO:
                if text.compact.startswith(filler, k) and k + len(filler) <= j:
                    k += len(filler)
                    singles = singles + 1 if len(filler) == 1 else 0
                    weak = max(weak, singles)
                    break
            else:
                if text.compact[k].isalnum():
                    unknown.append(k)
                k += 1
                singles = 0
        if unknown:
            korean.append((i, j, unknown[0], unknown[-1] + 1))
        if unknown or weak >= 3:
            runs.append((i, j))
        i = j
    return _Unexplained(tuple(runs), tuple(korean), tuple(english))


_KO_KEYWORDS = (
    [w for pair in SIDE_PAIRS_KO for w in pair]
    + '돌아서 돌아가 돌아 둘러서 우회해서 우회 피해서 피해 비켜서 비켜 회피해서 회피 사이 가운데 중간 '
      '박스 상자 머그컵 종이컵 물컵 바구니 물병 장애물 테이블 책상 탁자 의자 충전기 '
      '가세요 가주세요 가줘 가라 갈래 이동 이동해 이동하세요 움직여 주행 도착 접근 향해 '
      '까지 으로 경로 경로로 주세요 부탁해 부탁합니다 로봇아 쪽으로 방향으로 있는곳 따라서 지나서 '
      '통해서 다음에 개의'.split())
_EN_KEYWORDS = ('left', 'right', 'around', 'avoid', 'between', 'boxes', 'basket', 'bottle',
                'obstacle', 'please', 'towards', 'toward', 'through', 'circle', 'detour',
                'bypass', 'dodge', 'sidestep', 'reach', 'move', 'then', 'path', 'side')
_CORRECTOR: Optional[TypoCorrector] = None


def _typo_corrector() -> TypoCorrector:
    global _CORRECTOR
    if _CORRECTOR is None:
        _CORRECTOR = TypoCorrector(_KO_KEYWORDS, _EN_KEYWORDS, _FILLERS_KO)
    return _CORRECTOR


def _correct_typos(text: PreparedText, unexplained: _Unexplained
                   ) -> Tuple[str, List[str]]:
    """`text.raw` with one-edit typos of known words fixed, and a note per fix."""
    corrector = _typo_corrector()
    fixes: List[Tuple[int, int, str]] = []       # raw spans
    notes: List[str] = []
    # Runs with unexplained letters, and runs explained only by a chain of one-syllable
    # particles, which can spell a typo (도라서 = 도 + 라 + 서 is really 돌아서).
    for start, end in unexplained.runs:
        found = corrector.korean(text.compact[start:end])
        if found is not None:
            a, b, word = found
            raw_a, raw_b = text.compact_to_raw[start + a], text.compact_to_raw[start + b - 1] + 1
            fixes.append((raw_a, raw_b, word))
            notes.append(f'read {text.compact[start + a:start + b]!r} as {word!r}')
    for token, s_start, s_end in unexplained.english:
        word = corrector.english(token)
        if word is not None:
            c_start, c_end = text.compact_span(s_start, s_end)
            fixes.append((text.compact_to_raw[c_start], text.compact_to_raw[c_end - 1] + 1, word))
            notes.append(f'read {token!r} as {word!r}')
    raw = text.raw
    for a, b, word in sorted(fixes, reverse=True):
        raw = raw[:a] + word + raw[b:]
    return raw, notes


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


def normalize(text: str, known_targets: Iterable[str] = KNOWN_TARGETS) -> NormalizedInstruction:
    """Read one instruction (Korean, English or mixed). Never raises on any string.

    `known_targets`: the objects this robot may be sent to or handle (canonical English names,
    `TARGET_OBJECTS`); any other target is refused as unknown."""
    text = text if isinstance(text, str) else str(text)
    base = NormalizedInstruction(text=text, language=detect_language(text),
                                 status=Status.NOT_UNDERSTOOD)
    # Stop words first, in any text however bad: stopping is always safe.
    stop_word = find_stop_word(text)
    if stop_word:
        return replace(base, status=Status.STOP, action=STOP, canonical='stop',
                       canonical_ko='멈추세요', confidence=1.0, stop_word=stop_word,
                       reason=f'stop word {stop_word!r}')
    bad = check_input(text)
    if bad is not None:
        return _refused(base, bad)
    return _read(PreparedText(text), base, frozenset(known_targets), (), typos=True)


def _resolve_side(prepared: PreparedText, sides: Sequence[_Mention], notes: List[str]
                  ) -> Tuple[str, Optional[Refusal]]:
    """The side an instruction names ('' for none), or the refusal it earns.

    Negated and descriptive (attributive) sides do not count; after a correction marker the
    last side does; two remaining different sides are a conflict; a negated side with no
    other is a prohibition. Appends what it assumed to `notes`."""
    active_sides = [s for s in sides if not s.negated and not s.attributive]
    for s in sides:
        if s.negated:
            notes.append(f'side {s.surface!r} negated')
        elif s.attributive:
            notes.append(f'side {s.surface!r} describes an object, not the side to pass')
    markers = _correction_markers(prepared)
    if markers and not [s for s in active_sides if s.start > markers[-1][0]]:
        return '', Refusal(PROHIBITION, f'{markers[-1][1]!r} is not followed by a corrected '
                                        'side: the instruction may be withdrawn; say it again '
                                        'in full')
    if markers and len({s.value for s in active_sides}) > 1:
        after = [s for s in active_sides if s.start > markers[-1][0]]
        if after:
            notes.append(f'corrected: the side after the correction ({after[-1].surface!r}) '
                         'applies')
            active_sides = after
    side_values = sorted({s.value for s in active_sides})
    if len(side_values) > 1:
        words = ', '.join(repr(s.surface) for s in active_sides)
        return '', Refusal(CONFLICT, f'contradictory sides: {words} (to correct a side, say '
                                     '"왼쪽 말고 오른쪽으로" or "아니, 오른쪽으로")')
    side = side_values[0] if side_values else ''
    negated = [s for s in sides if s.negated]
    if negated and not side:
        return '', Refusal(PROHIBITION, f'side {negated[0].surface!r} is negated and no other '
                                        'side is given')
    return side, None


def _read(prepared: PreparedText, base: NormalizedInstruction, known_targets: FrozenSet[str],
          earlier_notes: Sequence[str], typos: bool) -> NormalizedInstruction:
    notes: List[str] = list(earlier_notes)

    def refuse(category: str, reason: str) -> NormalizedInstruction:
        return _refused(base, Refusal(category, reason), notes)

    refusal = refuse_sentence(prepared)
    if refusal is not None:
        return _refused(base, refusal, notes)

    if tabletop.mentions_tabletop(prepared.compact, prepared.spaced):
        return _read_tabletop(prepared, base, known_targets, notes)

    sides = _find(prepared, 'side', _SIDES_KO, _SIDES_EN, _SIDES_KO_WORD)
    maneuvers = _find(prepared, 'maneuver', _MANEUVERS_KO, _MANEUVERS_EN)
    objects = _find(prepared, 'object', [(o[0], o[2]) for o in _OBJECTS],
                    [(o[1], o[2]) for o in _OBJECTS])
    verbs = _find(prepared, 'verb', _VERBS_KO, _VERBS_EN)
    _mark_sides(prepared, sides)
    _mark_objects(prepared, objects)
    counts = {id(o): _obstacle_count(prepared, o) for o in objects if o.value in OBSTACLES}

    # Closed world: fix one-edit typos of known words and read again, else refuse.
    unexplained = _unexplained(prepared)
    if typos and (unexplained.runs or unexplained.english):
        corrected, fixes = _correct_typos(prepared, unexplained)
        if fixes:
            return _read(PreparedText(corrected), base, known_targets, notes + fixes,
                         typos=False)
    if unexplained:
        words = unexplained.words(prepared)
        token_starts = {start for _, start, _ in prepared.token_spans()}
        for start, end, lo, _ in unexplained.korean:
            m = _DEST_SUFFIX_KO.search(prepared.compact, lo, end)
            if m and m.end() == end and m.start() > lo and start in token_starts:
                return refuse(UNKNOWN_TARGET, f'{prepared.compact[start:m.start()]!r} is not an '
                                              'object this robot knows')
        for word, start, _ in unexplained.english:
            if _DEST_BEFORE_EN.search(prepared.spaced[:start]):
                return refuse(UNKNOWN_TARGET, f'{word!r} is not an object this robot knows')
        return refuse(NOT_UNDERSTOOD, 'words not understood: '
                      + ', '.join(repr(w) for w in words))

    side, side_refusal = _resolve_side(prepared, sides, notes)
    if side_refusal is not None:
        return _refused(base, side_refusal, notes)

    # Manoeuvre.
    maneuver_values = sorted({m.value for m in maneuvers})
    if len(maneuver_values) > 1:
        words = ', '.join(repr(m.surface) for m in maneuvers)
        return refuse(CONFLICT, f'contradictory manoeuvres: {words}')
    maneuver = maneuver_values[0] if maneuver_values else ''

    # Action.
    verb_values = {v.value for v in verbs}
    action = PLACE if PLACE in verb_values else PICK if PICK in verb_values else GO_TO

    # Objects: negated, avoided or left ones are refused; then obstacles vs target (vs held
    # object when placing).
    for o in objects:
        if o.role == 'negated':
            return refuse(PROHIBITION, f'{o.surface!r} is negated: say only where to go')
        if o.role == 'source':
            return refuse(PROHIBITION, f'{o.surface!r} is where to move away from, not a '
                                       'destination')
    things = [o for o in objects if o.value not in OBSTACLES]
    obstacles = [o for o in objects if o.value in OBSTACLES]
    if action == GO_TO:
        for o in things:
            if o.role in ('avoided', 'obj'):
                return refuse(PROHIBITION, f'{o.surface!r} is what to avoid or pass, not '
                                           'where to go')
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
        return refuse(CONFLICT, 'several targets: ' + ', '.join(target_values))
    target = target_values[0] if target_values else ''
    for thing in (target, held):
        if thing and thing not in known_targets:
            known = ', '.join(sorted(known_targets)) or 'none'
            return refuse(UNKNOWN_TARGET, f'{_KO_NAME[thing]} ({thing}) is not an object this '
                                          f'robot knows (known: {known})')

    obstacle = ''
    count = 0
    if obstacles:
        obstacle = 'box' if any(o.value == 'box' for o in obstacles) else 'obstacle'
        explicit: Dict[int, str] = {}
        for o in obstacles:
            value, word = counts.get(id(o), (None, ''))
            if value is not None:
                explicit.setdefault(value, word)
        if len(explicit) > 1:
            words = ', '.join(repr(w) for w in explicit.values())
            return refuse(CONFLICT, f'contradictory obstacle counts: {words}')
        if explicit:
            count = next(iter(explicit))
        elif maneuver == BETWEEN:
            count = 2
            notes.append('two obstacles assumed from "between"')
        else:
            count = 1
        if count < 1:
            return refuse(CONFLICT, f'obstacle count {count} makes no sense')
        if maneuver == BETWEEN and count < 2:
            return refuse(CONFLICT, f'"between" needs two obstacles, {count} given')

    # Is there anything to do?
    if action in (PICK, PLACE) and not target:
        return refuse(NOT_UNDERSTOOD, f'{action} without an object')
    if action == GO_TO and not (target or side or maneuver):
        return refuse(NOT_UNDERSTOOD, 'no target, direction or manoeuvre recognised'
                      + (f' (only {", ".join(o.surface for o in obstacles)})'
                         if obstacles else ''))
    if action == GO_TO and not verbs and not side and not maneuver and \
            not any(o.role == 'dest' for o in things):
        return refuse(NOT_UNDERSTOOD, 'a bare noun: no verb and no direction')

    confidence = 1.0
    if not verbs:
        confidence *= 0.9
        notes.append('no verb: motion assumed')
    if action == GO_TO and not target:
        confidence *= 0.7
        notes.append('no target object')
    if maneuver == BETWEEN and 'two obstacles assumed from "between"' in notes:
        confidence *= 0.95

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


# --------------------------------------------------------------------------- the table
def _tabletop_items() -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """(Korean/mixed patterns on the compact text, English patterns) -> object names.

    A colour and a shape are one object ('red_cup', also for colours the table does not have:
    'purple_cup'); a shape alone is '_cup' (which one is asked back)."""
    ko: List[Tuple[str, str]] = []
    en: List[Tuple[str, str]] = []
    for c_ko, c_en, colour in tabletop.COLOURS:
        for s_ko, s_en, shape in tabletop.SHAPES:
            name = tabletop.object_name(colour, shape)
            ko.append((f'(?:{c_ko})색?(?:의|인)?(?:{s_ko})', name))
            ko.append((f'(?:{c_en})(?:{s_ko})', name))
            ko.append((f'(?:{c_ko})색?(?:{s_en})', name))
            en.append((f'(?:{c_en})(?:\\s+colou?red)?\\s+(?:{s_en})', name))
    for s_ko, s_en, shape in tabletop.SHAPES:
        ko.append((s_ko, '_' + shape))
        en.append((s_en, '_' + shape))
    return ko, en


_ITEMS_KO, _ITEMS_EN = _tabletop_items()
_RECEPTACLES_KO = [(r[0], r[2]) for r in tabletop.RECEPTACLE_WORDS]
_RECEPTACLES_EN = [(r[1], r[2]) for r in tabletop.RECEPTACLE_WORDS]
_TABLE_VERBS_KO = ((r'올려놓으|올려놓아|올려놓|내려놓으|내려놓아|내려놓|넣어|넣으|넣기|놓아|놓으|놔|올려|'
                    r'둬|두어|두세요', PLACE),
                   (r'집어|집으|잡아|잡으|들어서|들어', PICK),
                   (tabletop.MOVE_VERBS_KO + r'|이동|움직여|움직이|움직|가져가|가져다', MOVE))
_TABLE_VERBS_EN = ((r'put|place|drop|insert|set', PLACE),
                   (r'pick(?:\s+up)?|grab|grasp|take', PICK),
                   (tabletop.MOVE_VERBS_EN + r'|bring|go|reach', MOVE))
# After an object: what it is to the sentence (Korean), before it (English).
_ITEM_OBJ_KO = re.compile(r'(?:들)?(?:을|를|은|는|이|가)')
_ITEM_DEST_KO = re.compile(r'(?:들)?(?:위로|위에|위쪽|위|안에|안으로|속에|에|으로|로|쪽)')
_ITEM_OBJ_EN = re.compile(r'(?:put|place|drop|insert|set|pick\s+up|pick|grab|grasp|take|move|'
                          r'shift|slide|carry|bring)\s+(?:the\s+|a\s+|your\s+)?$')
_ITEM_DEST_EN = re.compile(r'(?:above|over|on|onto|to|into|in|on\s+top\s+of|at)\s+'
                           r'(?:the\s+|a\s+)?$')
# A side naming a plate ("왼쪽 접시", "왼쪽에 있는 접시", "the left plate").
_PLATE_SIDE_KO = re.compile(r'(?:에있는|에놓인|쪽|의|편)?(?:접시)')
_PLATE_SIDE_EN = re.compile(r'\s+(?:plates?|dish(?:es)?)')
_TABLE_FILLERS_KO = sorted(set(_FILLERS_KO) | set(tabletop.FILLERS_KO), key=len, reverse=True)
_TABLE_KNOWN_EN = frozenset(_KNOWN_EN | set(tabletop.KNOWN_EN))


def _read_tabletop(prepared: PreparedText, base: NormalizedInstruction,
                   known_targets: FrozenSet[str], earlier_notes: Sequence[str]
                   ) -> NormalizedInstruction:
    """A sentence about the table -> one of the arm's tasks (see the module docstring)."""
    notes: List[str] = list(earlier_notes)

    def refuse(category: str, reason: str) -> NormalizedInstruction:
        return _refused(base, Refusal(category, reason), notes)

    sides = _find(prepared, 'side', _SIDES_KO, _SIDES_EN, _SIDES_KO_WORD)
    items = _find(prepared, 'item', _ITEMS_KO, _ITEMS_EN)
    places = _find(prepared, 'receptacle', _RECEPTACLES_KO, _RECEPTACLES_EN)
    hands = _find(prepared, 'hand', [(tabletop.HAND_WORDS[0], 'hand')],
                  [(tabletop.HAND_WORDS[1], 'hand')])
    verbs = _find(prepared, 'verb', _TABLE_VERBS_KO, _TABLE_VERBS_EN)
    _mark_sides(prepared, sides)
    for s in sides:
        s.attributive = bool(
            _PLATE_SIDE_EN.match(prepared.spaced, s.spaced_end) if s.english
            else _PLATE_SIDE_KO.match(prepared.compact, s.end))
    for o in items:
        if o.english:
            before = prepared.spaced[:o.spaced_start]
            o.role = ('obj' if _ITEM_OBJ_EN.search(before) else
                      'dest' if _ITEM_DEST_EN.search(before) else '')
        else:
            o.role = ('obj' if _ITEM_OBJ_KO.match(prepared.compact, o.end) else
                      'dest' if _ITEM_DEST_KO.match(prepared.compact, o.end) else '')

    unexplained = _unexplained(prepared, _TABLE_FILLERS_KO, _TABLE_KNOWN_EN)
    if unexplained:
        for _, end, _, hi in unexplained.korean:
            if re.match(r'(?:을|를)', prepared.compact[hi:end]):
                return refuse(UNKNOWN_TARGET,
                              f'{prepared.compact[_run_start(prepared, hi):hi]!r} is not on '
                              f'this table (it has {tabletop.table_objects_ko()})')
        for word, start, _ in unexplained.english:
            if _ITEM_OBJ_EN.search(prepared.spaced[:start]):
                return refuse(UNKNOWN_TARGET, f'{word!r} is not on this table (it has '
                                              f'{tabletop.table_objects_ko()})')
        return refuse(NOT_UNDERSTOOD, 'words not understood: '
                      + ', '.join(repr(w) for w in unexplained.words(prepared)))

    side, side_refusal = _resolve_side(prepared, sides, notes)
    if side_refusal is not None:
        return _refused(base, side_refusal, notes)
    plate_sides = sorted({s.value for s in sides if s.attributive and not s.negated})
    if len(plate_sides) > 1:
        return refuse(CONFLICT, 'two plates named: say one, 왼쪽 접시 or 오른쪽 접시')

    # The object: exactly one, on the table, known to this robot.
    names = sorted({o.value for o in items})
    if len(names) > 1:
        return refuse(CONFLICT, 'several objects: ' + ', '.join(
            tabletop.object_words_ko(n) if not n.startswith('_') else n[1:] for n in names))
    if not names:
        return refuse(NOT_UNDERSTOOD, 'no object named (say its colour and shape, e.g. '
                                      '"파란 블록")')
    item = names[0]
    if item.startswith('_'):
        shape = item[1:]
        same = [n for n, (sh, _) in OBJECTS_BY_SHAPE.items() if sh == shape]
        if len(same) != 1:
            return refuse(NOT_UNDERSTOOD, f'which {tabletop.KO_SHAPE[shape]}? say its colour ('
                          + ', '.join(tabletop.object_words_ko(n) for n in same) + ')')
        item = same[0]
        notes.append(f'the only {shape} on the table: {item}')
    if item not in OBJECTS_BY_SHAPE:
        return refuse(UNKNOWN_TARGET, f'{tabletop.object_words_ko(item)} ({item}) is not on this '
                                      f'table (it has {tabletop.table_objects_ko()})')

    kinds = {v.value for v in verbs}
    place_names = sorted({p.value for p in places})
    if len(place_names) > 1:
        return refuse(CONFLICT, 'several places: ' + ', '.join(place_names))
    goal = ''
    if hands:
        kind = REACH
    elif place_names:
        kind = PLACE
        goal = place_names[0]
        if goal == 'plate':
            plate_side = plate_sides[0] if plate_sides else side
            if not plate_side:
                return refuse(NOT_UNDERSTOOD, 'which plate? say 왼쪽 접시 or 오른쪽 접시')
            if plate_sides and side and side != plate_sides[0]:
                return refuse(CONFLICT, f'the {plate_sides[0]} plate and the side {side!r}')
            goal = f'{plate_side}_plate'
    else:
        kind = MOVE
        goal = side
        if not side:
            return refuse(NOT_UNDERSTOOD, f'what to do with the {tabletop.object_words_ko(item)}? '
                                          '(a side, the tray or a plate)')
    task_kind = {MOVE: 'move', PLACE: 'place', REACH: 'reach'}[kind]
    task_name = tabletop.find_task(task_kind, item, goal)
    if task_name is None:
        return refuse(NOT_UNDERSTOOD, f'not one of the arm\'s tasks: {task_kind} '
                                      f'{tabletop.object_words_ko(item)}'
                                      + (f' -> {tabletop.object_words_ko(goal)}' if goal else '')
                                      + ' (its tasks with it: '
                                      + ', '.join(tabletop.tasks_for(item)) + ')')
    for thing in (item, goal if kind == PLACE else ''):
        if thing and thing not in known_targets:
            known = ', '.join(sorted(known_targets)) or 'none'
            return refuse(UNKNOWN_TARGET, f'{tabletop.object_words_ko(thing)} ({thing}) is not '
                                          f'an object this robot knows (known: {known})')
    if kind == REACH and kinds - {MOVE}:
        return refuse(NOT_UNDERSTOOD, 'the hand is moved above an object, not '
                                      + '/'.join(sorted(kinds - {MOVE})))
    confidence = 1.0
    if not verbs:
        confidence *= 0.9
        notes.append('no verb: the task assumed from its words')
    task = tabletop.TASKS[task_name]
    return replace(base, status=Status.UNDERSTOOD, action=kind,
                   target_object=goal if kind == PLACE else item,
                   held_object=item if kind == PLACE else '', side=task.side,
                   scenario=task_name, canonical=task.english, canonical_ko=task.korean,
                   confidence=round(confidence, 3), notes=tuple(notes))


def _run_start(prepared: PreparedText, end: int) -> int:
    """Start of the Hangul run that ends at compact offset `end` (an unknown noun)."""
    start = end
    while start > 0 and prepared.compact[start - 1] not in ' ' and \
            '가' <= prepared.compact[start - 1] <= '힣' and prepared.free(start - 1, start):
        start -= 1
    return start


OBJECTS_BY_SHAPE = {name: (shape, colour) for name, (shape, colour) in
                    tabletop.OBJECTS.items()}


def normalize_many(texts: Sequence[str]) -> List[NormalizedInstruction]:
    """`normalize` over a sequence (convenience for datasets)."""
    return [normalize(t) for t in texts]


def scenarios_of(texts: Sequence[str]) -> Set[str]:
    """The set of scenario ids a list of texts normalises to (empty ids dropped)."""
    return {n.scenario for n in normalize_many(texts) if n.scenario}


def refusal(text: str, category: str, reason: str) -> NormalizedInstruction:
    """A refusal of `text` decided outside the normaliser (e.g. by the bytes it came in)."""
    base = NormalizedInstruction(text=text, language=detect_language(text),
                                 status=Status.REFUSED)
    return _refused(base, Refusal(category, reason))


def with_asr_confidence(reading: NormalizedInstruction, asr_confidence: float,
                        min_confidence: float) -> NormalizedInstruction:
    """The reading of a recognised (or typed: `asr_confidence` 1) text, as it is published.

    confidence = ASR confidence x the normaliser's; an understood reading below
    `min_confidence` is refused with "please repeat" (category low_confidence), never acted
    on. A stop stays a stop whatever the confidence (stopping is always safe)."""
    if reading.is_stop:
        return reading
    confidence = max(0.0, min(1.0, reading.confidence * float(asr_confidence)))
    if reading.understood and confidence < min_confidence:
        return refusal(reading.text, LOW_CONFIDENCE,
                       f'please repeat: heard {reading.text!r} with confidence '
                       f'{confidence:.2f} (below {min_confidence:.2f})')
    return replace(reading, confidence=round(confidence, 3))
