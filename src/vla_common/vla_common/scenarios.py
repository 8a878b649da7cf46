"""The 8 navigation scenarios: the one source of their ids, layout, side and wording (pure).

A scenario id is `{box_count}box_{orientation}_{side}`: one or two boxes between the robot and
the cup, placed lengthwise (`vert`) or crosswise (`hori`), passed on the left or the right. The
seed design fixes four of them by their Korean sentence; the other four are their mirrors.

| layout | manoeuvre | canonical Korean |
|---|---|---|
| 1box_vert | around (돌아서) | 박스를 {side}으로 돌아서 컵까지 가세요 |
| 1box_hori | avoid (피해서) | 박스를 {side}으로 피해서 컵까지 가세요 |
| 2box_vert | between (사이) | 두 박스 사이 {side} 경로로 컵까지 가세요 |
| 2box_hori | avoid (피해서) | 두 박스를 {side}으로 피해서 컵까지 가세요 |

Everything that needs the list reads it here: the instruction normaliser (scenario ids,
canonical sentences, paraphrase table), the simulator (which layout and side an id means; the
placement *geometry* of each layout is simulator data in `mobile_base/scenarios/layouts/`),
the learning loop (collection and evaluation order) and the golden bags. It lives in
`vla_common` because `vla_instruction` and `mobile_base` are siblings that both import it.
No rclpy, no message types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

LEFT = 'left'
RIGHT = 'right'
#: The sides a scenario is passed on, in canonical order.
SIDES: Tuple[str, ...] = (LEFT, RIGHT)

VERT = 'vert'   # boxes lengthwise: their long side along the route
HORI = 'hori'   # boxes crosswise

AROUND = 'around'
AVOID = 'avoid'
BETWEEN = 'between'
#: How an instruction words the route (the manoeuvre); fixed by the layout.
MANEUVERS: Tuple[str, ...] = (AROUND, AVOID, BETWEEN)

#: The Korean word of each side, as the canonical sentences use it.
SIDE_KO = {LEFT: '왼쪽', RIGHT: '오른쪽'}


@dataclass(frozen=True)
class Layout:
    """A scene arrangement, run once passing on each side. Templates take `{side}`."""

    box_count: int
    orientation: str     # VERT or HORI
    maneuver: str        # AROUND, AVOID or BETWEEN
    instruction_ko: str  # canonical Korean, `{side}` = 왼쪽 / 오른쪽
    instruction_en: str  # canonical English, `{side}` = left / right

    @property
    def name(self) -> str:
        """'1box_vert', ...: the key of the layout's placement geometry."""
        return f'{self.box_count}box_{self.orientation}'


#: The four layouts of the seed design, in canonical order.
LAYOUTS: Tuple[Layout, ...] = (
    Layout(1, VERT, AROUND, '박스를 {side}으로 돌아서 컵까지 가세요',
           'go around the {side} side of the box, then go to the cup'),
    Layout(1, HORI, AVOID, '박스를 {side}으로 피해서 컵까지 가세요',
           'move {side} to avoid the box, then go to the cup'),
    Layout(2, VERT, BETWEEN, '두 박스 사이 {side} 경로로 컵까지 가세요',
           'take the {side} path between the two boxes, then go to the cup'),
    Layout(2, HORI, AVOID, '두 박스를 {side}으로 피해서 컵까지 가세요',
           'move {side} to avoid the two boxes, then go to the cup'),
)


@dataclass(frozen=True)
class Scenario:
    """One of the 8 navigation scenarios: a layout and the side to pass it on."""

    id: str  # noqa: A003 - the scenario id is its name everywhere
    box_count: int
    orientation: str      # VERT or HORI
    side: str             # LEFT or RIGHT
    maneuver: str         # AROUND, AVOID or BETWEEN
    instruction_ko: str   # the canonical Korean instruction (the seed sentence or its mirror)
    instruction_en: str   # the canonical English instruction the normaliser produces

    @property
    def layout(self) -> str:
        """'1box_vert', ...: the name of its layout (the key of the placement geometry)."""
        return f'{self.box_count}box_{self.orientation}'


def _scenario(layout: Layout, side: str) -> Scenario:
    return Scenario(f'{layout.name}_{side}', layout.box_count, layout.orientation, side,
                    layout.maneuver, layout.instruction_ko.format(side=SIDE_KO[side]),
                    layout.instruction_en.format(side=side))


_CATALOG: Dict[str, Scenario] = {
    s.id: s for s in (_scenario(layout, side) for layout in LAYOUTS for side in SIDES)}

#: The 8 scenario ids in canonical order (layouts in order, left before right).
SCENARIOS: Tuple[str, ...] = tuple(_CATALOG)


def scenario(scenario_id: str) -> Scenario:
    """The catalog entry of an id; raises ValueError on an id that is not one of the 8."""
    try:
        return _CATALOG[scenario_id]
    except (KeyError, TypeError):
        raise ValueError(f'unknown scenario {scenario_id!r} (expected one of {SCENARIOS})'
                         ) from None


def find_scenario(box_count: int, maneuver: str, side: str) -> Optional[Scenario]:
    """The scenario a count, manoeuvre and side describe, or None when it is not one of the 8."""
    for entry in _CATALOG.values():
        if (entry.box_count, entry.maneuver, entry.side) == (box_count, maneuver, side):
            return entry
    return None


def mirror_scenario(scenario_id: str) -> str:
    """The id of the same scenario passed on the other side (e.g. mirrored augmentation)."""
    entry = scenario(scenario_id)
    return f'{entry.layout}_{RIGHT if entry.side == LEFT else LEFT}'
