"""`kosmos2`: the real `transformers` Kosmos-2 as a RoboVLMs-style vision-language backbone.

Each step's image goes through Kosmos-2's vision tower and resampler into the language model
at the `<image>` placeholders, exactly as `Kosmos2Processor` lays the sequence out
(`<s><image> 64 x image </image> text</s>`); a learnable action token is appended after the
text and its last hidden state is the step embedding (RoboVLMs' `[ACT]` token).

Weights come from a local directory or the HF cache (never downloaded here), or from a
Kosmos2Config dict with random initialisation (tests, benchmarks). The tokenizer is
Kosmos-2's `XLMRobertaTokenizer`; `build_offline_tokenizer` trains a small sentencepiece model
so everything can be exercised without the hub. Pixels are prepared in torch (CLIP mean/std)
rather than by the image processor, which needs torchvision for its default backend.
"""

from __future__ import annotations

import io
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..config import Kosmos2BackboneConfig
from ..errors import BackendUnavailableError, CheckpointError, ConfigError
from .base import Backbone, images_to_float

_DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - transformers is pinned in this workspace
        raise BackendUnavailableError(
            'the kosmos2 backbone needs `transformers` (pip install transformers; see '
            'requirements/python.txt)') from exc
    return transformers


def resolve_pretrained(name: str) -> str:
    """A local directory, or a hub id found in the HF cache (offline); else CheckpointError."""
    if os.path.isdir(name):
        return name
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any hub error means "not available offline"
        raise CheckpointError(
            f'Kosmos-2 weights {name!r} are neither a local directory nor in the Hugging Face '
            f'cache ({type(exc).__name__}). Weights are not downloaded by the policy: copy the '
            'checkpoint directory to this machine and pass its path.') from exc


def build_offline_tokenizer(directory: str, texts: Sequence[str], vocab_size: int = 400) -> Any:
    """Train a small sentencepiece model on `texts` and load it as Kosmos-2's tokenizer.

    The result is an `XLMRobertaTokenizer` (specials <s>, <pad>, </s>, <unk>, <mask>, byte
    fallback so nothing is unknown), saved in `directory`. For tests and benchmarks: the
    real model's tokenizer comes with its checkpoint.
    """
    import sentencepiece as spm

    transformers = _transformers()
    os.makedirs(directory, exist_ok=True)
    buf = io.BytesIO()
    # XLM-R's layout: sentencepiece ids <unk>=0, <s>=1, </s>=2; the tokenizer adds <pad>.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)), model_writer=buf, vocab_size=int(vocab_size),
        model_type='unigram', byte_fallback=True, character_coverage=1.0, unk_id=0, bos_id=1,
        eos_id=2, pad_id=-1, hard_vocab_limit=False, minloglevel=2, num_threads=1)
    with open(os.path.join(directory, 'sentencepiece.bpe.model'), 'wb') as f:
        f.write(buf.getvalue())
    tok = transformers.XLMRobertaTokenizer.from_pretrained(directory)
    tok.save_pretrained(directory)
    return tok


def load_processor(directory: str) -> Any:
    """Kosmos2Processor from a directory with tokenizer files (offline, no torchvision)."""
    transformers = _transformers()
    if not os.path.isdir(directory):
        raise CheckpointError(f'Kosmos-2 tokenizer directory not found: {directory}')
    try:
        tok = transformers.XLMRobertaTokenizer.from_pretrained(directory)
    except Exception as exc:  # noqa: BLE001 - report any tokenizer failure as a checkpoint error
        raise CheckpointError(f'cannot load the Kosmos-2 tokenizer from {directory}: '
                              f'{type(exc).__name__}: {exc}') from exc
    if os.path.exists(os.path.join(directory, 'preprocessor_config.json')):
        image_processor = transformers.CLIPImageProcessorPil.from_pretrained(directory)
    else:
        image_processor = transformers.CLIPImageProcessorPil()
    return transformers.Kosmos2Processor(image_processor=image_processor, tokenizer=tok)


def processor_vocab_size(directory: str) -> int:
    """Token count of a tokenizer once Kosmos2Processor has added its 1035 tag tokens."""
    return len(load_processor(directory).tokenizer)


class Kosmos2TextInputs:
    """Texts -> Kosmos-2 text inputs with the image placeholders (numpy, cached per text).

    The layout is the processor's own (`<s><image> image tokens </image> text</s>` and the
    matching image_embeds_position_mask); the pixels are prepared separately in torch.
    """

    def __init__(self, processor: Any, latent_query_num: int, max_text_tokens: int) -> None:
        self.processor = processor
        self.latent_query_num = int(latent_query_num)
        self.max_length = int(max_text_tokens) + self.latent_query_num + 3
        self.pad_id = int(processor.tokenizer.pad_token_id)
        self._cache: Dict[str, Tuple[list, list]] = {}
        self._dummy_image: Any = None

    def encode(self, text: str) -> Tuple[list, list]:
        cached = self._cache.get(text)
        if cached is None:
            if self._dummy_image is None:
                from PIL import Image

                self._dummy_image = Image.fromarray(np.zeros((32, 32, 3), np.uint8))
            enc = self.processor(text=text, images=self._dummy_image, add_eos_token=True,
                                 num_image_tokens=self.latent_query_num)
            ids = [int(i) for i in enc['input_ids']][:self.max_length]
            pos = [int(i) for i in enc['image_embeds_position_mask']][:len(ids)]
            cached = (ids, pos)
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[text] = cached
        return cached

    def __call__(self, texts: Sequence[str]) -> Dict[str, np.ndarray]:
        encoded = [self.encode(t) for t in texts]
        length = max(len(ids) for ids, _ in encoded)
        ids = np.full((len(encoded), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), length), dtype=np.int64)
        img = np.zeros((len(encoded), length), dtype=np.int64)
        for row, (i, p) in enumerate(encoded):
            ids[row, :len(i)] = i
            mask[row, :len(i)] = 1
            img[row, :len(p)] = p
        return {'input_ids': ids, 'attention_mask': mask, 'image_embeds_position_mask': img}


class Kosmos2Backbone(Backbone):
    """Kosmos2Model + a learnable action token (+ an optional projection)."""

    def __init__(self, cfg: Kosmos2BackboneConfig, tokenizer_dir: Optional[str] = None,
                 load_weights: bool = True) -> None:
        super().__init__()
        transformers = _transformers()
        self.cfg = cfg
        pretrained = resolve_pretrained(cfg.pretrained) if cfg.pretrained and (
            cfg.model_config is None or load_weights) else ''
        tok_dir = tokenizer_dir or cfg.tokenizer_path or pretrained
        if not tok_dir:
            raise ConfigError('Kosmos2BackboneConfig needs tokenizer_path (a directory with the '
                              'tokenizer files) when no pretrained checkpoint is given')
        self.processor = load_processor(tok_dir)
        self.tokenizer = self.processor.tokenizer
        dtype = _DTYPES[cfg.torch_dtype]
        if cfg.model_config is not None:
            config = transformers.Kosmos2Config(**cfg.model_config)
            config.text_config.use_cache = False
            # Built directly in the target dtype (a bf16 full-size model never exists in fp32).
            self.model = transformers.AutoModel.from_config(config, dtype=dtype)
            if not isinstance(self.model, transformers.Kosmos2Model):  # pragma: no cover
                raise ConfigError(f'model_config built a {type(self.model).__name__}, '
                                  'not a Kosmos2Model')
            if pretrained and load_weights:
                raise ConfigError('give either model_config (random init) or pretrained, '
                                  'not both')
        elif pretrained:
            try:
                self.model = transformers.Kosmos2Model.from_pretrained(
                    pretrained, local_files_only=True, dtype=dtype)
            except Exception as exc:  # noqa: BLE001 - surface as a checkpoint problem
                raise CheckpointError(f'cannot load Kosmos-2 from {pretrained}: '
                                      f'{type(exc).__name__}: {exc}') from exc
        else:  # pragma: no cover - excluded by config validation
            raise ConfigError('no Kosmos-2 weights or configuration')
        text_cfg = self.model.config.text_config
        if len(self.tokenizer) > text_cfg.vocab_size:
            raise ConfigError(f'the tokenizer has {len(self.tokenizer)} tokens but the model\'s '
                              f'vocabulary is {text_cfg.vocab_size}')
        self.text_dim = int(text_cfg.embed_dim)
        self.latent_query_num = int(self.model.config.latent_query_num)
        self.image_size = int(self.model.config.vision_config.image_size)
        self.padding_idx = int(text_cfg.pad_token_id)
        self.act_token = nn.Parameter(torch.randn(self.text_dim) * 0.02)
        self.embed_dim = cfg.embed_dim or self.text_dim
        self.proj = nn.Linear(self.text_dim, self.embed_dim) if cfg.embed_dim else nn.Identity()
        self.frozen = bool(cfg.freeze)
        if self.frozen:
            for p in self.model.parameters():
                p.requires_grad_(False)
            self.model.eval()
        self.text_inputs = Kosmos2TextInputs(self.processor, self.latent_query_num,
                                             cfg.max_text_tokens)

    @property
    def model_config_dict(self) -> Dict[str, Any]:
        """The Kosmos2Config actually built, as a plain dict (stored in saved policies)."""
        data = self.model.config.to_dict()
        keep = ('text_config', 'vision_config', 'latent_query_num')
        out = {k: data[k] for k in keep if k in data}
        skip = ('transformers_version', 'architectures', 'dtype')
        scalar = (int, float, str, bool, type(None), list)
        for sub in ('text_config', 'vision_config'):
            out[sub] = {k: v for k, v in out[sub].items()
                        if isinstance(v, scalar) and not k.startswith('_') and k not in skip}
        return out

    def train(self, mode: bool = True) -> 'Kosmos2Backbone':
        super().train(mode)
        if self.frozen:
            self.model.eval()  # a frozen backbone keeps its dropout off
        return self

    # ------------------------------------------------------------------ text
    def tokenize(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v) for k, v in self.text_inputs(texts).items()}

    def save_tokenizer(self, directory: str) -> None:
        self.tokenizer.save_pretrained(directory)
        self.processor.image_processor.save_pretrained(directory)

    # ------------------------------------------------------------------ forward
    def forward(self, images: torch.Tensor, text: Dict[str, torch.Tensor]) -> torch.Tensor:
        b, t = images.shape[:2]
        dtype = self.model.get_input_embeddings().weight.dtype
        pixels = images_to_float(images.reshape(b * t, *images.shape[2:]), self.image_size,
                                 self.cfg.image_mean, self.cfg.image_std, mode='bicubic')
        ids = text['input_ids'].repeat_interleave(t, dim=0)
        mask = text['attention_mask'].repeat_interleave(t, dim=0)
        img_pos = text['image_embeds_position_mask'].repeat_interleave(t, dim=0)
        n = ids.shape[0]
        # Append one slot; the action token goes right after each sequence's last real token
        # (one-hot selection rather than indexing keeps the graph exportable).
        pad_col = torch.full((n, 1), self.padding_idx, dtype=ids.dtype, device=ids.device)
        ids = torch.cat([ids, pad_col], dim=1)
        zeros = torch.zeros((n, 1), dtype=mask.dtype, device=mask.device)
        lengths = mask.sum(dim=1)
        select = nn.functional.one_hot(lengths, ids.shape[1]).to(mask.dtype)      # (N, L+1)
        mask = torch.cat([mask, zeros], dim=1) + select
        img_pos = torch.cat([img_pos, zeros], dim=1)
        embeds = self.model.get_input_embeddings()(ids).to(dtype)
        sel = select.unsqueeze(-1).to(dtype)
        embeds = embeds * (1 - sel) + self.act_token.to(dtype).view(1, 1, -1) * sel
        position_ids = (torch.cumsum(mask, dim=1) - 1).clamp(min=0) * mask \
            + self.padding_idx + 1
        out = self.model(pixel_values=pixels.to(dtype), inputs_embeds=embeds,
                         attention_mask=mask, image_embeds_position_mask=img_pos,
                         position_ids=position_ids, use_cache=False)
        act = (out.last_hidden_state * sel).sum(dim=1).to(torch.float32)           # (N, D)
        return self.proj(act).reshape(b, t, self.embed_dim)
