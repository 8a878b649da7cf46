"""Vision-language backbones; heavy ones (transformers) are imported only when built."""

from __future__ import annotations

from typing import Optional

from ..config import BackboneConfig, Kosmos2BackboneConfig, NanoBackboneConfig
from ..errors import ConfigError
from .base import Backbone


def build_backbone(cfg: BackboneConfig, tokenizer_dir: Optional[str] = None,
                   load_weights: bool = True) -> Backbone:
    """The backbone for a registered backbone config.

    tokenizer_dir: where a saved policy keeps its tokenizer (None for a new policy).
    load_weights: whether pretrained weights named by the config are loaded (False when a
    saved policy's own weights follow).
    """
    if isinstance(cfg, NanoBackboneConfig):
        from ..text import CharTokenizer
        from .nano import NanoBackbone

        tok = CharTokenizer.load(tokenizer_dir) if tokenizer_dir else None
        if tok is not None and (tok.mode != cfg.tokenizer or tok.max_length
                                != cfg.max_text_tokens):
            raise ConfigError(f'tokenizer in {tokenizer_dir} ({tok.mode}, {tok.max_length}) does '
                              f'not match the backbone config ({cfg.tokenizer}, '
                              f'{cfg.max_text_tokens})')
        return NanoBackbone(cfg, tok)
    if isinstance(cfg, Kosmos2BackboneConfig):
        from .kosmos2 import Kosmos2Backbone

        return Kosmos2Backbone(cfg, tokenizer_dir, load_weights)
    raise ConfigError(f'no backbone implementation for {type(cfg).__name__}')


__all__ = ['Backbone', 'build_backbone']
