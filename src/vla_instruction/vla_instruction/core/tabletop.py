"""The arm's tabletop language: its vocabulary, its paraphrase table, and which task a reading
names (pure; the normaliser does the reading, `normalizer._read_tabletop`).

The tasks themselves (ids, object, goal, canonical Korean and English) are defined once in
`vla_common.arm_tasks`; this module adds the words around them:

- objects are a colour and a shape ("빨간 컵", "파란색 블록", "yellow cube"); colours the
  lexicon knows but no object on the table has ("보라색 컵") and colour-shape pairs that do not
  exist ("빨간 블록") are unknown targets, refused with the objects that are there;
- receptacles: the tray (쟁반, 트레이) and the plates (접시), a plate picked by a side word
  ("왼쪽 접시", "the left plate");
- the hand (손, 그리퍼, 집게, hand, gripper) for the reach tasks ("파란 블록 위로 손을 옮기세요");
- a sentence is read as a tabletop instruction when it has one of these words or the verb
  옮기다 (`mentions_tabletop`); the navigation reading never sees it.

`ARM_PARAPHRASES[task]` lists Korean, English and mixed phrasings (the canonical Korean first);
`split_arm_paraphrases` holds a deterministic quarter of the phrasings out, ranking a
colour- and side-neutral form so both colours and both sides of one phrasing land on the
same side of the split (a held-out phrasing is unseen for every task).
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

from vla_common.arm_tasks import ARM_TASKS, KIND_MOVE, KIND_REACH, OBJECTS, RECEPTACLES, TASKS

from vla_instruction.core.scenarios import split_paraphrases

#: Colours: (Korean pattern on the space-free text, English pattern, name). The first four
#: are the table's; the rest are read so that an object of that colour is refused as unknown
#: rather than not understood.
COLOURS: Sequence[Tuple[str, str, str]] = (
    (r'빨간색|빨강색|빨간|빨강|붉은색|붉은', r'red', 'red'),
    (r'초록색|초록|녹색|초록빛', r'green', 'green'),
    (r'파란색|파랑색|파란|파랑|푸른색|푸른', r'blue', 'blue'),
    (r'노란색|노랑색|노란|노랑', r'yellow', 'yellow'),
    (r'보라색|보라|자주색', r'purple|violet', 'purple'),
    (r'검은색|검정색|검은|검정|까만색|까만', r'black', 'black'),
    (r'하얀색|흰색|하얀|흰', r'white', 'white'),
    (r'주황색|주황|오렌지색', r'orange', 'orange'),
    (r'분홍색|분홍|핑크색|핑크', r'pink', 'pink'),
    (r'회색', r'gr[ae]y', 'grey'),
)
#: Movable shapes: (Korean, English, name); a shape with a colour in front is one object.
SHAPES: Sequence[Tuple[str, str, str]] = (
    (r'머그컵|머그잔|종이컵|컵', r'cups?|mugs?', 'cup'),
    (r'블록|블럭|큐브|벽돌', r'blocks?|cubes?|bricks?', 'block'),
)
#: Receptacles: (Korean, English, name).
RECEPTACLE_WORDS: Sequence[Tuple[str, str, str]] = (
    (r'쟁반|트레이', r'trays?', 'tray'),
    (r'접시', r'plates?|dish(?:es)?', 'plate'),
)
#: The gripper: (Korean, English). 손 needs a particle or the end after it (손잡이, 손님).
HAND_WORDS: Tuple[str, str] = (r'로봇손|그리퍼|집게|손(?=을|를|이|은|만|$|위|옮|이동|움직)',
                               r'hand|gripper|grippers')
#: 옮기다 (move something): the verb of the move and reach tasks.
MOVE_VERBS_KO = r'옮겨|옮기|옮길|옮겨서'
MOVE_VERBS_EN = r'move|shift|slide|carry'
#: Words of these sentences that carry no task information (the normaliser's closed world).
FILLERS_KO: Tuple[str, ...] = ('위로', '위에', '위쪽으로', '위쪽에', '위', '안에', '안으로', '속에',
                               '가져가', '가져가세요', '가져가서', '대세요', '색', '있는', '에있는',
                               '하세요', '주세요', '줘', '놓아', '집어서', '해서', '서')
KNOWN_EN: Tuple[str, ...] = ('above', 'over', 'onto', 'into', 'it', 'and', 'your', 'the',
                             'top', 'of', 'please', 'on', 'in', 'to', 'a', 'up')

_ALL_KO = '|'.join([c[0] for c in COLOURS] + [s[0] for s in SHAPES]
                   + [r[0] for r in RECEPTACLE_WORDS] + [HAND_WORDS[0], MOVE_VERBS_KO])
_ALL_EN = '|'.join([c[1] for c in COLOURS] + [s[1] for s in SHAPES]
                   + [r[1] for r in RECEPTACLE_WORDS] + [HAND_WORDS[1]])
_TRIGGER_KO = re.compile(r'빨간|빨강|초록|녹색|파란|파랑|노란|노랑|보라|블록|블럭|큐브|쟁반|트레이|접시|'
                         r'그리퍼|집게|로봇손|옮기|옮겨|옮길|' + HAND_WORDS[0])
_TRIGGER_EN = re.compile(r'(?<![a-z])(?:' + '|'.join(
    [c[1] for c in COLOURS[:4]] + [s[1] for s in SHAPES[1:]] + [r[1] for r in RECEPTACLE_WORDS]
    + ['gripper']) + r')(?![a-z])')

KO_COLOUR = {'red': '빨간', 'green': '초록', 'blue': '파란', 'yellow': '노란', 'purple': '보라색',
             'black': '검은', 'white': '흰', 'orange': '주황색', 'pink': '분홍색', 'grey': '회색'}
KO_SHAPE = {'cup': '컵', 'block': '블록'}
KO_RECEPTACLE = {'tray': '쟁반', 'plate': '접시'}

#: Canonical names the normaliser reports for tabletop things (target_object / held_object)
#: and that `known_targets` may list: the table's objects and receptacles.
TABLETOP_OBJECTS: Tuple[str, ...] = tuple(OBJECTS) + tuple(RECEPTACLES)


def mentions_tabletop(compact: str, spaced: str) -> bool:
    """Whether a sentence (the normaliser's compact and spaced views) is about the table."""
    return bool(_TRIGGER_KO.search(compact) or _TRIGGER_EN.search(spaced))


def object_name(colour: str, shape: str) -> str:
    """'red', 'cup' -> 'red_cup' (whether or not the table has one)."""
    return f'{colour}_{shape}'


def object_words_ko(name: str) -> str:
    """'red_cup' -> '빨간 컵'; receptacles: 'left_plate' -> '왼쪽 접시'."""
    if name in RECEPTACLES:
        side, _, kind = name.rpartition('_')
        return (('왼쪽 ' if side == 'left' else '오른쪽 ' if side == 'right' else '')
                + KO_RECEPTACLE[kind])
    colour, _, shape = name.partition('_')
    return f'{KO_COLOUR.get(colour, colour)} {KO_SHAPE.get(shape, shape)}'


def table_objects_ko() -> str:
    return ', '.join(object_words_ko(n) for n in OBJECTS)


def find_task(kind: str, item: str, goal: str) -> Optional[str]:
    """The task id of (kind, object, goal), or None when the table has no such task."""
    for task in ARM_TASKS:
        if (task.kind, task.target, task.goal) == (kind, item, goal):
            return task.name
    return None


def tasks_for(item: str) -> List[str]:
    return [t.name for t in ARM_TASKS if t.target == item]


# --------------------------------------------------------------------------- paraphrases
# Placeholders filled per task: {빨간} colour (빨간/초록/파란/노란), {빨강} the other spelling,
# {red} English colour, {왼쪽} 왼쪽/오른쪽, {좌측} 좌측/우측, {왼편} 왼편/오른편, {left}.
_TEMPLATES: Dict[str, List[str]] = {
    KIND_MOVE: [
        '{빨간} 컵을 {왼쪽}으로 옮겨',
        '{빨간}색 컵을 {왼쪽}으로 옮기세요',
        '{빨간} 컵 {왼쪽}으로 옮겨줘',
        '{빨간} 컵을 집어서 {왼쪽}으로 옮겨 주세요',
        '{빨강} 컵을 {좌측}으로 옮겨 놓으세요',
        '{빨간} 컵을 {왼편}으로 옮겨 줄래?',
        '{빨간}컵을{왼쪽}으로옮겨주세요',
        '{빨간} 머그컵을 {왼쪽}으로 옮겨 주세요',
        '{red} 컵을 {left}로 옮겨 주세요',
        'move the {red} cup to the {left}',
        'Move the {red} cup {left}, please.',
        'pick up the {red} cup and move it to the {left}',
    ],
    'tray': [
        '{빨간} 블록을 쟁반에 넣어 주세요',
        '{빨간}색 블록을 쟁반 안에 넣어',
        '{빨간} 블럭을 트레이에 넣어줘',
        '{빨간} 큐브를 쟁반에 올려 주세요',
        '{빨간} 블록 집어서 쟁반에 놓아 줄래?',
        '{빨강} 블록을 쟁반에 넣으세요',
        '{빨간}블록을쟁반에넣으세요',
        '{red} block을 쟁반에 넣어 주세요',
        'put the {red} block in the tray',
        'Pick up the {red} block and place it in the tray.',
        'place the {red} cube into the tray please',
    ],
    'plate': [
        '초록 컵을 {왼쪽} 접시에 올려 주세요',
        '초록색 컵을 {왼쪽} 접시 위에 올려놓아 줘',
        '녹색 컵을 {좌측} 접시에 놓아 주세요',
        '초록 컵 집어서 {왼편} 접시 위에 놔',
        '초록컵을{왼쪽}접시위에놓으세요',
        '초록 컵을 {왼쪽}에 있는 접시에 놓으세요',
        '초록 머그컵을 {왼쪽} 접시 위에 내려놓으세요',
        'green 컵을 {left} 접시에 놓아 주세요',
        'put the green cup on the {left} plate',
        'place the green cup onto the {left} plate, please',
    ],
    KIND_REACH: [
        '{빨간} 블록 위로 손을 옮겨 주세요',
        '{빨간}색 블록 위로 그리퍼를 옮겨',
        '손을 {빨간} 블록 위로 이동하세요',
        '그리퍼를 {빨간} 블록 위로 움직여 주세요',
        '{빨간}블록위로손을옮기세요',
        '{빨강} 큐브 위로 손 옮겨줘',
        '집게를 {빨간} 블럭 위에 가져가세요',
        '{red} block 위로 손을 옮겨 주세요',
        'move the hand above the {red} block',
        'move your gripper over the {red} block',
    ],
}
_COLOUR_FILL = {'red': ('빨간', '빨강'), 'green': ('초록', '초록'), 'blue': ('파란', '파랑'),
                'yellow': ('노란', '노랑')}
_SIDE_FILL = {'left': {'왼쪽': '왼쪽', '좌측': '좌측', '왼편': '왼편', 'left': 'left'},
              'right': {'왼쪽': '오른쪽', '좌측': '우측', '왼편': '오른편', 'left': 'right'}}


def _fill(template: str, colour: str, side: str) -> str:
    ko, ko2 = _COLOUR_FILL[colour]
    out = template.replace('{빨간}', ko).replace('{빨강}', ko2).replace('{red}', colour)
    if side:
        out = re.sub(r'\{(왼쪽|좌측|왼편|left)\}', lambda m: _SIDE_FILL[side][m.group(1)], out)
    return out


def _build() -> Dict[str, List[str]]:
    table: Dict[str, List[str]] = {}
    for task in ARM_TASKS:
        group = task.family if task.family in ('tray', 'plate') else task.kind
        colour = OBJECTS[task.target][1]
        texts = [task.korean] + [_fill(t, colour, task.side) for t in _TEMPLATES[group]]
        table[task.name] = list(dict.fromkeys(texts))
    return table


#: task -> phrasings (Korean, English, mixed); the task's canonical Korean sentence first.
ARM_PARAPHRASES: Dict[str, List[str]] = _build()

_COLOUR_WORDS = re.compile('|'.join(sorted(
    {w for pair in _COLOUR_FILL.values() for w in pair} | set(_COLOUR_FILL), key=len,
    reverse=True)))


def split_arm_paraphrases(held_out_fraction: float = 0.25, seed: int = 0
                          ) -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
    """(train, held_out) phrasings per task; the canonical Korean sentence always trains.

    The split is `split_paraphrases`' (a SHA-256 rank of the side-neutral text) over the
    colour-neutral phrasings, so the blue and yellow, left and right versions of one phrasing
    are held out together."""
    keys: Dict[str, List[str]] = {}
    for name, texts in ARM_PARAPHRASES.items():
        keys[name] = [_COLOUR_WORDS.sub('<colour>', t) for t in texts[1:]]
    train_keys, _ = split_paraphrases(held_out_fraction, seed, keys)
    train: Dict[str, List[str]] = {}
    held: Dict[str, List[str]] = {}
    for name, texts in ARM_PARAPHRASES.items():
        kept = set(train_keys[name])
        train[name] = [texts[0]] + [t for t, k in zip(texts[1:], keys[name]) if k in kept]
        held[name] = [t for t, k in zip(texts[1:], keys[name]) if k not in kept]
    return train, held


__all__ = ['ARM_PARAPHRASES', 'COLOURS', 'FILLERS_KO', 'HAND_WORDS', 'KNOWN_EN', 'KO_COLOUR',
           'MOVE_VERBS_EN', 'MOVE_VERBS_KO', 'RECEPTACLE_WORDS', 'SHAPES', 'TABLETOP_OBJECTS',
           'TASKS', 'find_task', 'mentions_tabletop', 'object_name', 'object_words_ko',
           'split_arm_paraphrases', 'table_objects_ko', 'tasks_for']
