"""Policy heads: per-step embeddings over the history window -> action chunks.

Every head maps (B, T, D) embeddings to a prediction for each of the T steps of a chunk of
`chunk` future actions in the normalised space ([-1, 1] per dimension), as in RoboVLMs where
each step of the window is supervised with the actions that follow it. Continuous heads put a
tanh on the arm/base dimensions and a sigmoid on the gripper; the discrete head predicts one
of `num_bins` bins over [-1, 1] per dimension and decodes to bin centres.

Losses (seed): smooth-L1 (beta 0.1) on the continuous dimensions + binary cross-entropy on
the gripper weighted 0.01; the discrete head uses cross-entropy on the bins (gripper bins
weighted the same way).

The termination signal (`done`, every head alike): with `done=True` a head also predicts one
logit per chunk step, "the task is finished at this step", trained with binary cross-entropy
(`done_loss`) and read as a probability (`done_probability`).
"""

from __future__ import annotations

import abc
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .action_space import ActionSpaceSpec
from .config import DiscreteHeadConfig, GPTHeadConfig, HeadConfig, LSTMHeadConfig, MLPHeadConfig
from .errors import ConfigError
from .layers import TransformerBlock


# ------------------------------------------------------------------------------ trunks

class MLPTrunk(nn.Module):
    """Per-step MLP (the newest embedding only: no history)."""

    def __init__(self, cfg: MLPHeadConfig, in_dim: int, window: int) -> None:
        super().__init__()
        layers = []
        dim = in_dim
        for _ in range(cfg.num_layers):
            layers += [nn.Linear(dim, cfg.hidden_size), nn.ReLU(), nn.Dropout(cfg.dropout)]
            dim = cfg.hidden_size
        self.net = nn.Sequential(*layers)
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LSTMTrunk(nn.Module):
    """LSTM over the window (RoboVLMs' most used head)."""

    def __init__(self, cfg: HeadConfig, in_dim: int, window: int) -> None:
        super().__init__()
        layers = getattr(cfg, 'num_layers', 1)
        self.lstm = nn.LSTM(in_dim, cfg.hidden_size, num_layers=layers, batch_first=True,
                            dropout=cfg.dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.out_dim = cfg.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x)
        return self.drop(y)


class GPTTrunk(nn.Module):
    """GPT-style causal transformer over the window (learned positions, left-aligned)."""

    def __init__(self, cfg: GPTHeadConfig, in_dim: int, window: int) -> None:
        super().__init__()
        self.window = window
        self.inp = nn.Linear(in_dim, cfg.hidden_size)
        self.pos = nn.Parameter(torch.zeros(1, window, cfg.hidden_size))
        nn.init.normal_(self.pos, std=0.02)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(cfg.hidden_size, cfg.num_heads, cfg.dropout,
                                                     causal=True)
                                    for _ in range(cfg.num_layers))
        self.ln = nn.LayerNorm(cfg.hidden_size)
        self.out_dim = cfg.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        h = self.drop(self.inp(x) + self.pos[:, :t])
        for block in self.blocks:
            h = block(h)
        return self.ln(h)


# ------------------------------------------------------------------------------- heads

class PolicyHead(nn.Module, abc.ABC):
    """Base: `forward` -> raw outputs, `decode` -> normalised actions, `loss` -> scalars.

    With `done`, `forward` also returns 'done_logits' (B, T, chunk) from `self.done_logit`
    (a linear layer on the trunk's features, added by the subclass through `_add_done`).
    """

    def __init__(self, spec: ActionSpaceSpec, chunk: int, done: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.chunk = chunk
        self.has_done = bool(done)
        self.done_logit: Optional[nn.Linear] = None

    def _add_done(self, features: int) -> None:
        if self.has_done:
            self.done_logit = nn.Linear(features, self.chunk)

    def _done_outputs(self, h: torch.Tensor, out: Dict[str, torch.Tensor]
                      ) -> Dict[str, torch.Tensor]:
        if self.done_logit is not None:
            b, t = h.shape[:2]
            out['done_logits'] = self.done_logit(h).reshape(b, t, self.chunk)
        return out

    def done_probability(self, out: Dict[str, torch.Tensor]) -> Optional[torch.Tensor]:
        """(B, T, chunk) probability that the task is finished at each chunk step, or None."""
        logits = out.get('done_logits')
        return None if logits is None else torch.sigmoid(logits)

    def done_loss(self, out: Dict[str, torch.Tensor], target: torch.Tensor
                  ) -> Dict[str, torch.Tensor]:
        """Binary cross-entropy of the done logits against 0/1 targets (B, T, chunk).

        Every step has a target (past the end of a demonstration the task stays finished),
        so nothing is masked.
        """
        logits = out['done_logits']
        target = target.to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, target)
        with torch.no_grad():
            hit = ((logits > 0) == (target > 0.5)).to(logits.dtype).mean()
        return {'loss_done': bce, 'done_accuracy': hit}

    @abc.abstractmethod
    def decode(self, out: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Raw outputs -> normalised actions (B, T, chunk, dims)."""

    @abc.abstractmethod
    def loss(self, out: Dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor,
             beta: float, gripper_weight: float) -> Dict[str, torch.Tensor]:
        """Training losses: {'loss', ...} scalars."""


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T, C, k) values over the entries where mask (B, T, C) is true."""
    m = mask.to(values.dtype).unsqueeze(-1).expand_as(values)
    return (values * m).sum() / m.sum().clamp(min=1.0)


class ContinuousHead(PolicyHead):
    """A trunk + tanh head for continuous dimensions + sigmoid head for the gripper."""

    def __init__(self, trunk: nn.Module, spec: ActionSpaceSpec, chunk: int,
                 done: bool = False) -> None:
        super().__init__(spec, chunk, done)
        self.trunk = trunk
        self.n_cont = len(spec.continuous_indices)
        self.action = nn.Linear(trunk.out_dim, chunk * self.n_cont)
        self.gripper = nn.Linear(trunk.out_dim, chunk) if spec.gripper_index is not None \
            else None
        self._add_done(trunk.out_dim)

    def forward(self, emb: torch.Tensor) -> Dict[str, torch.Tensor]:
        h = self.trunk(emb)
        b, t = h.shape[:2]
        out = {'continuous': torch.tanh(self.action(h)).reshape(b, t, self.chunk, self.n_cont)}
        if self.gripper is not None:
            out['gripper_logits'] = self.gripper(h).reshape(b, t, self.chunk, 1)
        return self._done_outputs(h, out)

    def decode(self, out: Dict[str, torch.Tensor]) -> torch.Tensor:
        cont = out['continuous']
        if self.gripper is None:
            return cont
        g = torch.sigmoid(out['gripper_logits']) * 2.0 - 1.0
        gi = self.spec.gripper_index
        return torch.cat([cont[..., :gi], g, cont[..., gi:]], dim=-1)

    def loss(self, out: Dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor,
             beta: float, gripper_weight: float) -> Dict[str, torch.Tensor]:
        idx = list(self.spec.continuous_indices)
        cont = F.smooth_l1_loss(out['continuous'], target[..., idx], beta=beta, reduction='none')
        losses = {'loss_action': _masked_mean(cont, mask)}
        total = losses['loss_action']
        if self.gripper is not None:
            gi = self.spec.gripper_index
            g_target = (target[..., gi:gi + 1] + 1.0) * 0.5
            bce = F.binary_cross_entropy_with_logits(out['gripper_logits'], g_target,
                                                     reduction='none')
            losses['loss_gripper'] = _masked_mean(bce, mask)
            hit = ((out['gripper_logits'] > 0) == (g_target > 0.5)).to(bce.dtype)
            losses['gripper_accuracy'] = _masked_mean(hit, mask).detach()
            total = total + gripper_weight * losses['loss_gripper']
        losses['loss'] = total
        return losses


class DiscreteHead(PolicyHead):
    """Per-dimension bins over [-1, 1] on an LSTM trunk; decodes argmax to bin centres."""

    def __init__(self, cfg: DiscreteHeadConfig, in_dim: int, window: int,
                 spec: ActionSpaceSpec, chunk: int, done: bool = False) -> None:
        super().__init__(spec, chunk, done)
        self.trunk = LSTMTrunk(cfg, in_dim, window)
        self.bins = cfg.num_bins
        self.logits = nn.Linear(self.trunk.out_dim, chunk * spec.dims * cfg.num_bins)
        edges = torch.linspace(-1.0, 1.0, cfg.num_bins + 1)
        self.register_buffer('centers', (edges[:-1] + edges[1:]) / 2.0, persistent=False)
        self._add_done(self.trunk.out_dim)

    def forward(self, emb: torch.Tensor) -> Dict[str, torch.Tensor]:
        h = self.trunk(emb)
        b, t = h.shape[:2]
        out = {'logits': self.logits(h).reshape(b, t, self.chunk, self.spec.dims, self.bins)}
        return self._done_outputs(h, out)

    def to_bins(self, values: torch.Tensor) -> torch.Tensor:
        """Bin index of normalised values in [-1, 1]."""
        idx = torch.floor((values.clamp(-1.0, 1.0) + 1.0) * 0.5 * self.bins).long()
        return idx.clamp(0, self.bins - 1)

    def decode(self, out: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.centers[out['logits'].argmax(dim=-1)]

    def loss(self, out: Dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor,
             beta: float, gripper_weight: float) -> Dict[str, torch.Tensor]:
        logits = out['logits']
        ce = F.cross_entropy(logits.reshape(-1, self.bins), self.to_bins(target).reshape(-1),
                             reduction='none').reshape(target.shape)
        idx = list(self.spec.continuous_indices)
        losses = {'loss_action': _masked_mean(ce[..., idx], mask)}
        total = losses['loss_action']
        with torch.no_grad():
            err = (self.decode(out) - target).abs()
            losses['bin_error'] = _masked_mean(err, mask)
        gi = self.spec.gripper_index
        if gi is not None:
            losses['loss_gripper'] = _masked_mean(ce[..., gi:gi + 1], mask)
            total = total + gripper_weight * losses['loss_gripper']
        losses['loss'] = total
        return losses


def build_head(cfg: HeadConfig, in_dim: int, window: int, chunk: int,
               spec: ActionSpaceSpec, done: bool = False) -> PolicyHead:
    """The head for a registered head config (with the done logits when `done`)."""
    if isinstance(cfg, DiscreteHeadConfig):
        return DiscreteHead(cfg, in_dim, window, spec, chunk, done)
    trunks = {MLPHeadConfig: MLPTrunk, LSTMHeadConfig: LSTMTrunk, GPTHeadConfig: GPTTrunk}
    trunk_cls: Optional[type] = trunks.get(type(cfg))
    if trunk_cls is None:
        raise ConfigError(f'no head implementation for {type(cfg).__name__}')
    return ContinuousHead(trunk_cls(cfg, in_dim, window), spec, chunk, done)
