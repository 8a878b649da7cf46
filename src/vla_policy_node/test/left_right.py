"""Training a tiny policy to tell LEFT from RIGHT, shared by the policy and the node tests."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np
from vla_policy_node.policies.presets import LEFT, RIGHT


def train_left_right(policy: Any, forward: float, steps: int) -> Tuple[float, float]:
    """Adam on random images: LEFT -> (forward, +0.3, 0), RIGHT -> (forward, -0.3, 0) for
    every step of the chunk. Returns the first and the last loss."""
    import torch

    rng = np.random.default_rng(0)
    target = {LEFT: [forward, 0.3, 0.0], RIGHT: [forward, -0.3, 0.0]}
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    policy.model.train()
    first = last = None
    for _ in range(steps):
        texts = [LEFT, RIGHT] * 4
        actions = np.array([[target[t]] * policy.chunk_size for t in texts], np.float32)[:, None]
        batch = {'images': rng.integers(0, 256, (8, 1, 32, 32, 3), dtype=np.uint8),
                 'instruction': texts, 'actions': actions}
        loss = policy.compute_loss(batch)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = loss.item()
        first = last if first is None else first
    return first, last
