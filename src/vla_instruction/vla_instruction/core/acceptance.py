"""Which readable instructions are refused, and why (pure; the policy is docs/instruction.md).

The normaliser reads a task out of a sentence by its keywords; these rules decide, before
that, whether the sentence is a command at all. A sentence is refused (no motion, a reason
for the operator) when it
- is bad input: too long, control characters, invalid UTF-8 (`check_input`);
- forbids or negates an action anywhere: -지 마(세요) / -지 말고 / -지 말아 / -지 않- / -지 못- /
  -면 안 되다 / 금지 / 절대 / 안 + verb / don't, do not, never, not, no, cannot, without ...
  The whole sentence is refused, whatever the negation's scope: a prohibition hidden in a
  longer sentence ("박스를 돌아서 컵까지 가면 안 돼요") is still a prohibition, and a
  positively phrased retry costs the operator one sentence. Only a negated *side* is a
  correction, not a prohibition ("왼쪽 말고 오른쪽으로", "right, not left"); the normaliser
  handles it;
- asks a question ("컵까지 갈 수 있어?", "where is the cup"); polite requests phrased as
  questions are commands ("가 줄래?", "가 주실래요?", "could you go ...?");
- states a condition or a hypothesis ("박스가 없으면 컵으로 가", "if ..., when ...");
- is not a command: past tense ("컵까지 갔어"), a report.
Each rule errs towards refusing: a refusal is always safe, an accepted prohibition never is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, List, Optional, Pattern, Sequence, Tuple

from vla_instruction.core.text import FINAL_RIEUL, FINAL_SSANG_SIOT, final_consonant, \
    PreparedText

# Refusal categories (docs/instruction.md, "Acceptance policy"); also the corpus labels.
PROHIBITION = 'prohibition'        # a negated or forbidden action
QUESTION = 'question'              # a question, not a command
CONDITIONAL = 'conditional'        # a condition or hypothesis
NOT_A_COMMAND = 'not_a_command'    # past tense, a report
CONFLICT = 'conflict'              # two sides / manoeuvres / targets / counts without a correction
UNKNOWN_TARGET = 'unknown_target'  # an object this robot cannot act on
NOT_UNDERSTOOD = 'not_understood'  # words the normaliser cannot explain, or no task at all
BAD_INPUT = 'bad_input'            # empty, too long, control characters, invalid UTF-8
LOW_CONFIDENCE = 'low_confidence'  # recognised speech too uncertain (instruction_node)
CATEGORIES: Tuple[str, ...] = (PROHIBITION, QUESTION, CONDITIONAL, NOT_A_COMMAND, CONFLICT,
                               UNKNOWN_TARGET, NOT_UNDERSTOOD, BAD_INPUT, LOW_CONFIDENCE)

#: Longer text is refused unread (an instruction is a sentence; a bridge sending a file is not).
MAX_TEXT_CHARS = 500

_BIDI_CONTROLS = frozenset('\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069')


@dataclass(frozen=True)
class Refusal:
    """Why a sentence is not acted on: a category (above) and a reason for the operator."""

    category: str
    reason: str


def check_input(text: str) -> Optional[Refusal]:
    """Bad input: empty, too long, control characters, invalid UTF-8 (as decoded with
    replacement characters or surrogate escapes). None when the text may be read."""
    if len(text) > MAX_TEXT_CHARS:
        return Refusal(BAD_INPUT, f'text too long ({len(text)} characters, at most '
                                  f'{MAX_TEXT_CHARS}): an instruction is one sentence')
    for i, ch in enumerate(text):
        if ch == '\ufffd' or '\ud800' <= ch <= '\udfff':
            return Refusal(BAD_INPUT, f'invalid UTF-8 at character {i} (the sender\'s text '
                                      'encoding is broken)')
        if ch in _BIDI_CONTROLS or (unicodedata.category(ch) == 'Cc' and ch not in '\t\n\r'):
            return Refusal(BAD_INPUT, f'control character U+{ord(ch):04X} at character {i} '
                                      '(the text may be corrupted)')
    if not any(ch.isalnum() for ch in text):
        return Refusal(BAD_INPUT, 'empty instruction')
    return None


# --------------------------------------------------------------------------- prohibitions
_GO_STEMS = r'(?:가|하|돌|피하|이동하|움직이|오|다가가|접근하|향하)'
# Verbs (and typos of them) that can follow a short negation 안/못 ("안 가", "못 가").
_NEGATABLE = (r'(?:가|갈|간|갑|이동|움직|돌|피|해|하|할|돼|되|됩|된|대|와|오|올|집|잡|넣|놓|'
              r'건드|부딪|닿|접근|다가|향|지나)')
_KO_PROHIBITIONS: Sequence[Tuple[str, str]] = (
    # -지 마(세요) / -지 말고 / -지 말아 / -지 않- / -지 못- (not after 까지: "컵까지 말고" is a
    # negated target, handled with the objects).
    # 기/디/치: the -지 as speech recognition writes it ("가기 마세요" for 가지 마세요).
    (r'(?<!까)[지기디치](?:는|도|만|를|들|좀)?(?:마|말|맙|맘|않|안|못)',
     'a negated verb (-지 마/말/않/못)'),
    # The imperative forms of 말다 exist only in prohibitions, wherever they stand.
    (r'마세요|마십시오|맙시다|마시고|마라|마셈|마쇼|말아|말라', 'a prohibition (말다)'),
    # A go verb in -지 followed by anything but -지고 / -지나 / a verb (컵가지 가: a typo of
    # 까지): a typo of the forms above ("가지 머") must not read as "go".
    (_GO_STEMS + r'지(?!고|나|금|가|이동|향)', 'a negated verb (-지 ...)'),
    (r'(?:면|서는|선|서도|어도|아도)(?:절대로?|진짜|정말|절대)?안(?:돼|되|됩|된|됨|될|됌|대|데|뒈)',
     '-면 안 되다 (must not)'),
    (r'금지|금물|불가|삼가|자제', 'a prohibition word'),
    (r'절대|결코', '절대/결코 (never)'),
    (r'싫', '싫다 (do not want)'),
    (r'필요(?:가|는)?없', '필요 없다 (no need)'),
    (r'(?:거|것|게|건|걸|기)(?:는|도|은|를)?(?:아니|아냐|말고|말구|빼고|대신)',
     'a negated action (… 거 아니야 / … 거 말고)'),
    # Short negation with the spaces lost ("컵까지안가").
    (r'(?:까지|으로|로|에|을|를|은|는|도|쪽|고)(?:안|못)' + _NEGATABLE,
     'a short negation (안/못 + verb)'),
    (r'노노|ㄴㄴ|\u1102\u1102', '노노 (no no)'),
)
_KO_SHORT_NEGATION = re.compile(r'(?:^|\s)(?:안|못)\s?(?=' + _NEGATABLE + ')|'
                                r'(?:^|\s)(?:마|마요)(?:\s|$)')

_EN_SIDE_AFTER = r'\s+(?:(?:on|to|at)\s+)?(?:the\s+)?(?:left|right)(?![a-z])'
_EN_PROHIBITION = re.compile(
    r'(?<![a-z])(?:don\s?t|do\s+not|does\s+not|doesn\s?t|did\s+not|didn\s?t|never|cannot|'
    r'can\s?t|won\s?t|wouldn\s?t|shouldn\s?t|should\s+not|mustn\s?t|must\s+not|may\s+not|'
    r'neither|nor|nope|forbid\w*|prohibit\w*|refrain\w*|(?<!right\s)away|without|'
    r'avoid(?:ing)?\s+(?:going|moving|driving|heading|reaching|approaching|getting|touching)|'
    r'not(?!' + _EN_SIDE_AFTER + r')|no)(?![a-z])')
_EN_NO = re.compile(r'(?<![a-z])no(?![a-z])')
#: "no" as an interjection (followed by punctuation or the end): a correction marker like
#: Korean 아니, not a prohibition ("left... no, right").
_EN_NO_INTERJECTION = re.compile(r'(?<![a-z])no(?=\s*(?:[,.!;:…]|-\s|—|–|$))')


def english_no_interjections(text: PreparedText) -> List[int]:
    """Compact offsets of the English "no"s that are interjections (correction markers).

    The k-th whole-word "no" of `raw` is the k-th of `spaced` (removing punctuation neither
    creates nor splits that word), so the punctuation decision made on `raw` maps over."""
    interjection = [bool(_EN_NO_INTERJECTION.match(text.raw, m.start()))
                    for m in _EN_NO.finditer(text.raw)]
    spaced = list(_EN_NO.finditer(text.spaced))
    if len(spaced) != len(interjection):
        return []
    return [text.to_compact[m.start()] for m, flag in zip(spaced, interjection) if flag]


def _prohibition(text: PreparedText) -> Optional[Refusal]:
    for pattern, what in _KO_PROHIBITION_RES:
        m = pattern.search(text.compact)
        if m:
            return Refusal(PROHIBITION, f'{what}: {m.group(0)!r}')
    m = _KO_SHORT_NEGATION.search(text.spaced)
    if m:
        word = text.spaced[m.start():m.end() + 2].strip()
        return Refusal(PROHIBITION, f'a short negation or prohibition: {word!r}')
    interjections = set(english_no_interjections(text))
    for m in _EN_PROHIBITION.finditer(text.spaced):
        if m.group(0) == 'no' and text.to_compact[m.start()] in interjections:
            continue
        return Refusal(PROHIBITION, f'a negation or prohibition: {m.group(0)!r}')
    return None


_KO_PROHIBITION_RES: List[Tuple[Pattern[str], str]] = [
    (re.compile(p), what) for p, what in _KO_PROHIBITIONS]

# --------------------------------------------------------------------------- questions
#: Requests phrased as questions, which are commands: -아 줄래(요)? -아 주실래요? 주시겠어요?
#: -아 줄 수 있어(요)? 갈래? (and "could/would/will you", "... please?").
_KO_REQUEST = re.compile(r'(?:줄래|주실래|주시겠|주겠|줄수있|주실수있|줄수없|갈래|할래|해줄래)')
_EN_REQUEST = re.compile(r'(?<![a-z])(?:could\s+you|would\s+you|will\s+you|can\s+you\s+please|'
                         r'please)(?![a-z])')
_KO_QUESTION_WORDS = re.compile(r'어디|뭐|무엇|무슨|왜|언제|어떻게|어떡|어때|어느|몇|누구|얼마')
_EN_QUESTION_WORDS = re.compile(r'(?<![a-z])(?:what|where|which|why|how|who|whose|whom)(?![a-z])')
_KO_ABILITY = re.compile(r'(?<!줄|실)수(?:가|는|도)?(?:있|없)|가능|(?:도|어도|아도)(?:돼|되|됩|될|괜찮)')
# Interrogative endings after a verb, even without "?" (speech transcripts often lack it).
_KO_QUESTION_END = re.compile(r'(?:가|갈|해|하|돌|돌아|피해|있|없|되|돼|이동해|움직여|와|오)'
                              r'(?:니|냐|나요|까|까요|는지|는가|는가요|지요|죠)$')
# A question mark ending a word ("가?", "가? 응"), not one typed inside a word.
_QUESTION_MARK = re.compile(r'\?(?![\w?])')
_EN_QUESTION_START = re.compile(
    r'^(?:can|could|would|will|shall|should|may|might|must|do|does|did|is|are|am|was|were|'
    r'what|where|which|why|how|who|whose|whom|have|has)(?![a-z])')


def _question(text: PreparedText) -> Optional[Refusal]:
    request = bool(_KO_REQUEST.search(text.compact) or _EN_REQUEST.search(text.spaced))
    m = _KO_QUESTION_WORDS.search(text.compact) or _EN_QUESTION_WORDS.search(text.spaced)
    if m:
        return Refusal(QUESTION, f'a question word: {m.group(0)!r}')
    m = _KO_ABILITY.search(text.compact)
    if m:
        return Refusal(QUESTION, f'asks about ability or permission: {m.group(0)!r}')
    if not request:
        if _QUESTION_MARK.search(text.raw):
            return Refusal(QUESTION, 'a question ("?") and not a request')
        m = _KO_QUESTION_END.search(text.compact)
        if m:
            return Refusal(QUESTION, f'an interrogative ending: {m.group(0)!r}')
        m = _EN_QUESTION_START.match(text.spaced)
        if m:
            return Refusal(QUESTION, f'a question: starts with {m.group(0)!r}')
    return None


# --------------------------------------------------------------------------- conditions
# Nouns that end in 면 (side, front, surface, ...) and the -면서 of "while".
_MYEON_NOUNS = ('측면', '정면', '표면', '전면', '방면', '단면', '옆면', '앞면', '뒷면', '바닥면',
                '화면', '반면', '이면', '평면', '벽면', '라면')
#: "-면 돼(요)" at the end is a directive ("컵까지 가면 돼" = "just go to the cup").
_DIRECTIVE_MYEON = re.compile(r'면(?:돼|돼요|됩니다|된다|되요|됨)$')
_KO_CONDITIONAL = re.compile(r'만약|만일|혹시|경우|거든|다면|라면|려면|자마자|으면|면(?!서)')
_EN_CONDITIONAL = re.compile(r'(?<![a-z])(?:if|unless|when|whenever|whether|in\s+case|suppose|'
                             r'supposing|assuming|provided|as\s+soon\s+as|once|otherwise|'
                             r'might|would(?!\s+you))(?![a-z])')


def _conditional(text: PreparedText) -> Optional[Refusal]:
    compact = text.compact
    directive = _DIRECTIVE_MYEON.search(compact)
    for m in _KO_CONDITIONAL.finditer(compact):
        if directive and m.start() == directive.start():
            continue
        if m.group(0) == '면' and (
                m.start() == 0 or
                any(compact.startswith(noun, m.end() - len(noun)) for noun in _MYEON_NOUNS)):
            continue
        context = compact[max(0, m.start() - 2):m.end()]
        return Refusal(CONDITIONAL, f'a condition or hypothesis: {context!r}')
    # -ㄹ 때 ("박스가 보일 때"): when ... .
    for m in re.finditer('때', compact):
        if m.start() > 0 and final_consonant(compact[m.start() - 1]) == FINAL_RIEUL:
            return Refusal(CONDITIONAL, f'a condition (-ㄹ 때): '
                                        f'{compact[m.start() - 1:m.end()]!r}')
    m = _EN_CONDITIONAL.search(text.spaced)
    if m:
        return Refusal(CONDITIONAL, f'a condition or hypothesis: {m.group(0)!r}')
    return None


# --------------------------------------------------------------------------- not a command
_NOT_PAST = frozenset('있겠')   # ㅆ-final syllables that are not the past tense


def _not_a_command(text: PreparedText) -> Optional[Refusal]:
    for i, ch in enumerate(text.compact):
        if final_consonant(ch) == FINAL_SSANG_SIOT and ch not in _NOT_PAST:
            word = next((t for t in text.tokens() if ch in t), ch)
            return Refusal(NOT_A_COMMAND, f'past tense {word!r}: a report, not a command')
    return None


#: The sentence-level rules, in the order they are checked (the first that applies decides).
RULES: Tuple[Callable[[PreparedText], Optional[Refusal]], ...] = (
    _prohibition, _question, _conditional, _not_a_command)


def refuse_sentence(text: PreparedText) -> Optional[Refusal]:
    """The first sentence-level refusal that applies, or None."""
    for rule in RULES:
        refusal = rule(text)
        if refusal is not None:
            return refusal
    return None
