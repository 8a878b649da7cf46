"""`nano`: a small FiLM-conditioned CNN + a jamo-level text encoder, trainable on a CPU.

The text encoder reads the instruction (Korean or English) through `CharTokenizer` and a
small transformer; its pooled vector modulates every CNN stage (FiLM, as in RT-1) so the
image features are computed *for* the instruction, and is concatenated to the flattened
spatial features so left/right words and left/right image layout meet in one vector.
"""

from __future__ import annotations

import math
from typing import Dict, Sequence

import torch
from torch import nn

from ..config import NanoBackboneConfig
from ..layers import masked_mean, TransformerBlock
from ..text import CharTokenizer
from .base import Backbone, images_to_float


def _groups(channels: int) -> int:
    for g in (8, 4, 2):
        if channels % g == 0:
            return g
    return 1


class FiLM(nn.Module):
    """Feature-wise affine modulation from the text vector (identity at initialisation)."""

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(cond).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return x * (1.0 + gamma) + beta


class ConvStage(nn.Module):
    """Stride-2 conv + GroupNorm + FiLM + SiLU, then a residual 3x3 conv."""

    def __init__(self, cin: int, cout: int, cond_dim: int, film: bool) -> None:
        super().__init__()
        self.down = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(_groups(cout), cout)
        self.film = FiLM(cond_dim, cout) if film else None
        self.conv = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.norm1(self.down(x))
        if self.film is not None:
            x = self.film(x, cond)
        x = self.act(x)
        return x + self.act(self.norm2(self.conv(x)))


class TextEncoder(nn.Module):
    """Token + position embeddings, a few transformer blocks, masked mean pooling."""

    def __init__(self, vocab_size: int, dim: int, layers: int, heads: int, max_tokens: int,
                 dropout: float) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos = nn.Embedding(max_tokens, dim)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        h = self.tok(ids) + self.pos(positions)
        for block in self.blocks:
            h = block(h, mask)
        return masked_mean(self.ln(h), mask)


class NanoBackbone(Backbone):
    """(B, T, H, W, 3) images + text -> (B, T, embed_dim)."""

    def __init__(self, cfg: NanoBackboneConfig, tokenizer: CharTokenizer = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.tokenizer = tokenizer or CharTokenizer(cfg.tokenizer, cfg.max_text_tokens)
        self.embed_dim = cfg.embed_dim
        self.image_size = cfg.image_size
        self.text = TextEncoder(self.tokenizer.vocab_size, cfg.text_dim, cfg.text_layers,
                                cfg.text_heads, cfg.max_text_tokens, cfg.dropout)
        c = cfg.channels
        self.stem = nn.Sequential(nn.Conv2d(3, c[0], 3, stride=2, padding=1, bias=False),
                                  nn.GroupNorm(_groups(c[0]), c[0]), nn.SiLU())
        self.stages = nn.ModuleList(ConvStage(c[i - 1], c[i], cfg.text_dim, cfg.film)
                                    for i in range(1, len(c)))
        self.reduce = nn.Sequential(nn.Conv2d(c[-1], cfg.spatial_channels, 1), nn.SiLU())
        flat = cfg.spatial_channels * cfg.feature_size ** 2
        self.fuse = nn.Sequential(nn.Dropout(cfg.dropout),
                                  nn.Linear(flat + cfg.text_dim, cfg.embed_dim),
                                  nn.LayerNorm(cfg.embed_dim))
        if cfg.freeze:
            for p in self.parameters():
                p.requires_grad_(False)

    def tokenize(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        ids, mask = self.tokenizer(list(texts))
        return {'input_ids': torch.from_numpy(ids), 'attention_mask': torch.from_numpy(mask)}

    def save_tokenizer(self, directory: str) -> None:
        self.tokenizer.save(directory)

    def _augment(self, x: torch.Tensor, frames: int = 1) -> torch.Tensor:
        """Training only: hue changes per sample of `frames` consecutive images
        (`augment_hue`, `augment_gray`), colour changes that keep every hue (`augment_color`),
        then a random translation by up to `augment_shift` pixels."""
        if not self.training:
            return x
        x = self._augment_color(self._augment_hue(x, frames))
        shift = self.cfg.augment_shift
        if shift <= 0:
            return x
        n = x.shape[0]
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = 1.0
        theta[:, 1, 1] = 1.0
        theta[:, :, 2] = (torch.rand(n, 2, device=x.device) * 2 - 1) * 2 * shift / x.shape[-1]
        grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
        return nn.functional.grid_sample(x, grid, padding_mode='border', align_corners=False)

    def _augment_hue(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """Per sample (the `frames` images of one window alike), one 3x3 colour matrix: with
        probability `augment_hue` a rotation of the colours about the grey axis by a uniform
        angle, mirrored (red and green swapped) half of those times; with probability
        `augment_gray` grey (Rec. 601 luma); then an exposure and white-balance gain
        (`augment_exposure` stops). Clipped to the colour cube."""
        p_hue, p_gray = float(self.cfg.augment_hue), float(self.cfg.augment_gray)
        stops = float(self.cfg.augment_exposure)
        if p_hue <= 0.0 and p_gray <= 0.0 and stops <= 0.0:
            return x
        n = x.shape[0] // frames
        opts = dict(device=x.device, dtype=x.dtype)
        eye = torch.eye(3, **opts).expand(n, 3, 3)
        c = 3.0 ** -0.5                                  # the grey axis u = (c, c, c)
        u = torch.full((3,), c, **opts)
        cross = torch.tensor([[0.0, -c, c], [c, 0.0, -c], [-c, c, 0.0]], **opts)   # [u]x
        angle = (torch.rand(n, device=x.device) * 2.0 * math.pi).to(x.dtype).view(n, 1, 1)
        rotation = (torch.cos(angle) * eye + torch.sin(angle) * cross
                    + (1.0 - torch.cos(angle)) * torch.outer(u, u))        # Rodrigues
        mirror = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], **opts)
        mirrored = torch.rand(n, device=x.device).view(n, 1, 1) < 0.5
        rotation = torch.where(mirrored, mirror @ rotation, rotation)
        hue = torch.rand(n, device=x.device).view(n, 1, 1) < p_hue
        matrix = torch.where(hue, rotation, eye)
        luma = torch.tensor([0.299, 0.587, 0.114], **opts).expand(3, 3)
        grey = torch.rand(n, device=x.device).view(n, 1, 1) < p_gray
        matrix = torch.where(grey, luma @ matrix, matrix)
        log_gain = (stops * (torch.rand(n, 1, device=x.device) * 2.0 - 1.0)
                    + stops / 4.0 * (torch.rand(n, 3, device=x.device) * 2.0 - 1.0))
        matrix = (torch.diag_embed(torch.exp2(log_gain).to(x.dtype)) @ matrix
                  ).repeat_interleave(frames, dim=0)
        mean = torch.tensor(self.cfg.image_mean, **opts).view(1, 3, 1, 1)
        std = torch.tensor(self.cfg.image_std, **opts).view(1, 3, 1, 1)
        rgb = torch.einsum('nij,njhw->nihw', matrix, x * std + mean).clamp(0.0, 1.0)
        return (rgb - mean) / std

    def _augment_color(self, x: torch.Tensor) -> torch.Tensor:
        """Per image, with strength s = `augment_color`: saturation scaled by [1 - s, 1]
        (towards grey), contrast by [1 - 0.3 s, 1 + 0.3 s], brightness moved by up to 0.2 s
        of the range. Hue-preserving, so it never produces a colour the data does not have
        (the held-out palette stays held out); it teaches the network that a box is a box at
        any saturation and brightness."""
        s = float(self.cfg.augment_color)
        if s <= 0.0:
            return x
        n = x.shape[0]

        def uniform(lo: float, hi: float) -> torch.Tensor:
            return (lo + (hi - lo) * torch.rand(n, 1, 1, 1, device=x.device)).to(x.dtype)

        mean = torch.tensor(self.cfg.image_mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.cfg.image_std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        rgb = x * std + mean                                        # back to 0..1
        grey = rgb.mean(dim=1, keepdim=True)
        rgb = grey + (rgb - grey) * uniform(1.0 - s, 1.0)
        contrast = uniform(1.0 - 0.3 * s, 1.0 + 0.3 * s)
        rgb = 0.5 + (rgb - 0.5) * contrast + uniform(-0.2 * s, 0.2 * s)
        return (rgb - mean) / std

    def forward(self, images: torch.Tensor, text: Dict[str, torch.Tensor]) -> torch.Tensor:
        b, t = images.shape[:2]
        text_vec = self.text(text['input_ids'], text['attention_mask'])      # (B, text_dim)
        cond = text_vec.repeat_interleave(t, dim=0)                         # (B*T, text_dim)
        x = images_to_float(images.reshape(b * t, *images.shape[2:]), self.image_size,
                            self.cfg.image_mean, self.cfg.image_std)
        x = self.stem(self._augment(x, t))
        for stage in self.stages:
            x = stage(x, cond)
        feat = self.reduce(x).flatten(1)
        return self.fuse(torch.cat([feat, cond], dim=1)).reshape(b, t, self.embed_dim)
