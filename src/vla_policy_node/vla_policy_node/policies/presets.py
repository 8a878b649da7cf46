"""Named configuration presets and example instructions (tests, tools, benchmarks)."""

from __future__ import annotations

from typing import Any, Dict, Tuple

#: Example instructions of the seed's Korean navigation scenarios (and English forms).
LEFT = '박스를 왼쪽으로 돌아서 컵까지 가세요'
RIGHT = '박스를 오른쪽으로 돌아서 컵까지 가세요'
EXAMPLE_INSTRUCTIONS: Tuple[str, ...] = (
    LEFT, RIGHT, '박스를 왼쪽으로 피해서 컵까지 가세요', '박스를 오른쪽으로 피해서 컵까지 가세요',
    '두 박스 사이 왼쪽 경로로 컵까지 가세요', '두 박스 사이 오른쪽 경로로 컵까지 가세요',
    'go to the cup passing the box on the left', 'go to the cup passing the box on the right',
)

#: A nano backbone small enough for unit tests (~30k parameters, < 1 ms per step).
TINY_NANO: Dict[str, Any] = {'type': 'nano', 'image_size': 32, 'channels': [8, 16],
                             'text_dim': 16, 'text_layers': 1, 'text_heads': 2, 'embed_dim': 32,
                             'spatial_channels': 8, 'max_text_tokens': 96}

#: Heads small enough for unit tests.
TINY_HEADS: Dict[str, Dict[str, Any]] = {
    'mlp': {'type': 'mlp', 'hidden_size': 32, 'num_layers': 2},
    'lstm': {'type': 'lstm', 'hidden_size': 32, 'num_layers': 2},
    'gpt': {'type': 'gpt', 'hidden_size': 32, 'num_layers': 2, 'num_heads': 4},
    'discrete': {'type': 'discrete', 'hidden_size': 32, 'num_layers': 1, 'num_bins': 16},
}
