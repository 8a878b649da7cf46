"""The interface every backbone implements."""

from __future__ import annotations

import abc
from typing import Dict, Sequence

import torch
from torch import nn


class Backbone(nn.Module, abc.ABC):
    """(images of one camera over T steps, text) -> one embedding per step.

    forward(images, text) with images (B, T, H, W, 3) uint8 (or float in [0, 255]) and text
    the dict returned by `tokenize` for B texts; returns (B, T, embed_dim).

    `tokenize` and `save_tokenizer` are abstract, so a backbone that lacks one cannot be
    built at all, instead of failing the first time a policy tokenises or is saved.
    """

    embed_dim: int
    image_size: int

    @abc.abstractmethod
    def tokenize(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Token tensors ('input_ids', 'attention_mask', ...) for `texts`, as forward takes."""

    @abc.abstractmethod
    def save_tokenizer(self, directory: str) -> None:
        """Write what `tokenize` needs into `directory` (a checkpoint's tokenizer/)."""


def images_to_float(images: torch.Tensor, size: int, mean: Sequence[float],
                    std: Sequence[float], mode: str = 'bilinear') -> torch.Tensor:
    """(N, H, W, 3) uint8/float [0, 255] -> (N, 3, size, size) normalised float32.

    Resizes only when needed (the policies resize with OpenCV before calling, datasets should
    store images at the backbone size); antialiased so a downscale does not alias.
    """
    x = images.permute(0, 3, 1, 2).to(torch.float32)
    if x.shape[-2:] != (size, size):
        x = nn.functional.interpolate(x, size=(size, size), mode=mode, antialias=True,
                                      align_corners=False).clamp(0.0, 255.0)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x / 255.0 - m) / s
