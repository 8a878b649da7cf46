"""The torch module of a RoboVLMs policy: backbone per step (+ state, cameras) + head."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import nn

from .action_space import action_space
from .backbones import build_backbone
from .config import RoboVLMsConfig
from .heads import build_head


class VLAModel(nn.Module):
    """images + text (+ state) per step -> step embeddings -> head over the window."""

    def __init__(self, cfg: RoboVLMsConfig, tokenizer_dir: Optional[str] = None,
                 load_weights: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.spec = action_space(cfg.action_space)
        self.backbone = build_backbone(cfg.backbone, tokenizer_dir, load_weights)
        dim = self.backbone.embed_dim
        self.embed_dim = dim
        self.camera_fuse = nn.Linear(cfg.num_cameras * dim, dim) if cfg.num_cameras > 1 \
            else None
        self.state_proj = nn.Linear(cfg.state_dim, dim) if cfg.state_dim else None
        self.head = build_head(cfg.head, dim, cfg.window_size, cfg.chunk_size, self.spec,
                               cfg.done_head)

    def embed(self, images: torch.Tensor, text: Dict[str, torch.Tensor],
              state: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Step embeddings (B, T, D).

        images: (B, T, K, S, S, 3) uint8 (K cameras) or (B, T, S, S, 3) when K = 1;
        text: the backbone's tokenisation of B texts; state: (B, T, state_dim) normalised.
        """
        if images.dim() == 5:
            images = images.unsqueeze(2)
        per_camera = [self.backbone(images[:, :, k], text) for k in range(images.shape[2])]
        emb = per_camera[0] if self.camera_fuse is None else self.camera_fuse(
            torch.cat(per_camera, dim=-1))
        if self.state_proj is not None:
            if state is None:
                raise ValueError(f'this model needs a robot state ({self.cfg.state_dim} values)')
            emb = emb + self.state_proj(state.to(emb.dtype))
        return emb

    def forward(self, embeddings: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Raw head outputs for every step of (B, T, D) embeddings."""
        return self.head(embeddings)

    def predict_normalized(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, T, chunk, dims) normalised actions."""
        return self.head.decode(self.head(embeddings))

    def predict(self, embeddings: torch.Tensor
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(B, T, chunk, dims) normalised actions and the (B, T, chunk) done probabilities
        (None without a done head), from one pass of the head."""
        out = self.head(embeddings)
        return self.head.decode(out), self.head.done_probability(out)
