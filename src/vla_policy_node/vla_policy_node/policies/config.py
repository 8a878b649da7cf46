"""Configuration dataclasses of the policy library, registered by name, validated on construction.

Three registries: backbones (`nano`, `kosmos2`), heads (`mlp`, `lstm`, `gpt`, `discrete`) and
policies (`robovlms`). A configuration serialises to plain JSON (`to_dict`) with a `type` key
per registered object and comes back with `config_from_dict`; unknown keys and bad values
raise `ConfigError` at construction, never later inside a forward pass.

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Type, TypeVar

from .errors import ConfigError
from .registry import Registry

BACKBONES: Registry['BackboneConfig'] = Registry('backbone')
HEADS: Registry['HeadConfig'] = Registry('head')
POLICIES: Registry['PolicyConfig'] = Registry('policy')

ACTION_SPACE_NAMES = ('base', 'arm')
CONDITION_CHOICES = ('original', 'canonical')

C = TypeVar('C', bound='_Config')


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _positive_int(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        _check(isinstance(value, int) and not isinstance(value, bool) and value > 0,
               f'{type(obj).__name__}.{name} must be a positive integer, got {value!r}')


def _probability(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        _check(isinstance(value, (int, float)) and 0.0 <= float(value) < 1.0,
               f'{type(obj).__name__}.{name} must be in [0, 1), got {value!r}')


@dataclass
class _Config:
    """Common behaviour: validation after construction, dict round trip."""

    type_name: ClassVar[str] = ''

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError if a field is out of range; subclasses extend."""

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {'type': self.type_name} if self.type_name else {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _Config):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls: Type[C], data: Mapping[str, Any]) -> C:
        data = dict(data)
        data.pop('type', None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f'{cls.__name__}: unknown field(s) {unknown}; '
                              f'known: {sorted(known)}')
        return cls(**data)


# ----------------------------------------------------------------------------- backbones

@dataclass
class BackboneConfig(_Config):
    """A vision-language backbone: (images, text) of one time step -> one embedding."""

    embed_dim: int = 256
    freeze: bool = False

    def validate(self) -> None:
        _positive_int(self, 'embed_dim')


@BACKBONES.register('nano')
@dataclass
class NanoBackboneConfig(BackboneConfig):
    """Small in-house backbone: a FiLM-conditioned CNN + a text encoder that reads Korean.

    Default input 64x64: measured on this 2-core CPU (benchmarks/bench_policy.py train), a
    training step costs 1.7-2.3 ms per frame at 64x64 against 3.8-5.9 ms at 96x96 and
    38-50 ms at 224x224, so an epoch over ~72 demonstrations (~11k frames) takes ~20-25 s and
    the 30-minute budget allows 50+ epochs. At 64 px across an ~80 deg field of view a 0.3 m
    box 2 m away is ~7 px wide and the cup a few px: enough to steer around obstacles. 96 is
    the option when detail matters more than epochs.
    """

    image_size: int = 64
    channels: Tuple[int, ...] = (32, 64, 96, 128)
    text_dim: int = 128
    text_layers: int = 2
    text_heads: int = 4
    max_text_tokens: int = 128
    tokenizer: str = 'jamo'
    film: bool = True
    dropout: float = 0.1
    spatial_channels: int = 32
    augment_shift: int = 0
    augment_color: float = 0.0
    #: Training only, per sample (every frame of a window gets the same change): the
    #: probability that its colours are turned about the grey axis by a random angle and,
    #: half of those times, mirrored (two channels swapped) -- every hue can become any hue,
    #: channel permutations included; and the probability that it is made grey (luma). Both
    #: keep shapes, shading and the brightness order of the scene; they teach that a box is a
    #: box whatever its hue.
    augment_hue: float = 0.0
    augment_gray: float = 0.0
    #: Training only, per sample: exposure and white balance. The image is multiplied by
    #: 2**u, u uniform in [-e, e] (e = this value, in stops), and each channel by a further
    #: 2**v, v uniform in [-e/4, e/4]; clipped. 0 = off.
    augment_exposure: float = 0.0
    image_mean: Tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: Tuple[float, float, float] = (0.25, 0.25, 0.25)

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.image_mean = tuple(float(v) for v in self.image_mean)
        self.image_std = tuple(float(v) for v in self.image_std)
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        _positive_int(self, 'image_size', 'text_dim', 'text_layers', 'text_heads',
                      'max_text_tokens', 'spatial_channels')
        _probability(self, 'dropout')
        _check(len(self.channels) >= 1 and all(c > 0 for c in self.channels),
               f'NanoBackboneConfig.channels must be positive, got {self.channels}')
        # A stride-2 stem (channels[0]) plus one stride-2 stage per further entry.
        reduction = 2 ** len(self.channels)
        _check(self.image_size % reduction == 0 and self.image_size >= reduction,
               f'NanoBackboneConfig.image_size {self.image_size} must be a multiple of '
               f'{reduction} (2 ** len(channels))')
        _check(self.text_dim % self.text_heads == 0,
               f'text_dim {self.text_dim} must be divisible by text_heads {self.text_heads}')
        _check(self.tokenizer in ('jamo', 'byte'),
               f"NanoBackboneConfig.tokenizer must be 'jamo' or 'byte', got {self.tokenizer!r}")
        _check(isinstance(self.augment_shift, int) and 0 <= self.augment_shift < self.image_size,
               f'augment_shift must be in [0, image_size), got {self.augment_shift!r}')
        _check(isinstance(self.augment_color, (int, float)) and 0.0 <= self.augment_color <= 1.0,
               f'augment_color must be in [0, 1], got {self.augment_color!r}')
        _check(isinstance(self.augment_exposure, (int, float))
               and 0.0 <= self.augment_exposure <= 3.0,
               f'augment_exposure must be in [0, 3] stops, got {self.augment_exposure!r}')
        for name in ('augment_hue', 'augment_gray'):
            value = getattr(self, name)
            _check(isinstance(value, (int, float)) and 0.0 <= value <= 1.0,
                   f'{name} must be a probability in [0, 1], got {value!r}')
        _check(len(self.image_mean) == 3 and len(self.image_std) == 3
               and all(s > 0 for s in self.image_std), 'image_mean/std need 3 values, std > 0')

    @property
    def feature_size(self) -> int:
        """Side of the last feature map."""
        return self.image_size // 2 ** len(self.channels)


#: microsoft/kosmos-2-patch14-224 dimensions, written out (random weights here, no download).
KOSMOS2_FULL_CONFIG: Dict[str, Any] = {
    'text_config': {
        'vocab_size': 65037, 'max_position_embeddings': 2048, 'embed_dim': 2048, 'layers': 24,
        'ffn_dim': 8192, 'attention_heads': 32, 'activation_function': 'gelu', 'dropout': 0.1,
        'attention_dropout': 0.1, 'activation_dropout': 0.0, 'layerdrop': 0.0,
        'layer_norm_eps': 1e-5, 'init_std': 0.02, 'scale_embedding': True, 'use_cache': False,
        'pad_token_id': 1, 'bos_token_id': 0, 'eos_token_id': 2,
    },
    'vision_config': {
        'hidden_size': 1024, 'intermediate_size': 4096, 'num_hidden_layers': 24,
        'num_attention_heads': 16, 'num_channels': 3, 'image_size': 224, 'patch_size': 14,
        'hidden_act': 'quick_gelu', 'layer_norm_eps': 1e-5, 'attention_dropout': 0.0,
        'initializer_range': 0.02, 'initializer_factor': 1.0,
    },
    'latent_query_num': 64,
}


def tiny_kosmos2_config(vocab_size: int, image_size: int = 56, latent_query_num: int = 8,
                        embed_dim: int = 64, layers: int = 2) -> Dict[str, Any]:
    """A Kosmos2Config dict small enough for unit tests (a few ms per forward pass)."""
    return {
        'text_config': {
            'vocab_size': int(vocab_size), 'max_position_embeddings': 512,
            'embed_dim': embed_dim, 'layers': layers, 'ffn_dim': 2 * embed_dim,
            'attention_heads': 4, 'dropout': 0.0, 'attention_dropout': 0.0, 'use_cache': False,
            'pad_token_id': 1, 'bos_token_id': 0, 'eos_token_id': 2,
        },
        'vision_config': {
            'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': layers,
            'num_attention_heads': 4, 'image_size': image_size, 'patch_size': 14,
        },
        'latent_query_num': latent_query_num,
    }


@BACKBONES.register('kosmos2')
@dataclass
class Kosmos2BackboneConfig(BackboneConfig):
    """Kosmos-2 through the real `transformers` classes (RoboVLMs' default backbone).

    pretrained: a local checkpoint directory or a hub id already in the HF cache (nothing is
      downloaded); its weights initialise the backbone of a *new* policy.
    model_config: a Kosmos2Config dict; used instead of `pretrained` to build a randomly
      initialised model (tests, benchmarks). A saved policy always stores the resolved dict
      here, so loading it never needs `pretrained`.
    tokenizer_path: directory with the tokenizer (and image processor) files; defaults to
      `pretrained`. A saved policy keeps its own copy in `<checkpoint>/tokenizer/`.
    embed_dim: 0 = the language model's width (no projection).
    """

    embed_dim: int = 0
    freeze: bool = True
    pretrained: str = ''
    model_config: Optional[Dict[str, Any]] = None
    tokenizer_path: str = ''
    max_text_tokens: int = 256
    torch_dtype: str = 'float32'
    image_mean: Tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    image_std: Tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)

    def __post_init__(self) -> None:
        self.image_mean = tuple(float(v) for v in self.image_mean)
        self.image_std = tuple(float(v) for v in self.image_std)
        super().__post_init__()

    def validate(self) -> None:
        _check(isinstance(self.embed_dim, int) and self.embed_dim >= 0,
               f'Kosmos2BackboneConfig.embed_dim must be >= 0, got {self.embed_dim!r}')
        _positive_int(self, 'max_text_tokens')
        _check(bool(self.pretrained) or self.model_config is not None,
               'Kosmos2BackboneConfig needs `pretrained` (a local directory or a cached hub id) '
               'or `model_config` (a Kosmos2Config dict, e.g. tiny_kosmos2_config(...))')
        _check(self.model_config is None or isinstance(self.model_config, dict),
               'Kosmos2BackboneConfig.model_config must be a dict')
        _check(self.torch_dtype in ('float32', 'bfloat16', 'float16'),
               f'torch_dtype must be float32, bfloat16 or float16, got {self.torch_dtype!r}')

    @property
    def image_size(self) -> int:
        """Input side of the vision tower (224 for the released model)."""
        if self.model_config is not None:
            return int(self.model_config.get('vision_config', {}).get('image_size', 224))
        return 224


# ----------------------------------------------------------------------------------- heads

@dataclass
class HeadConfig(_Config):
    """A policy head: per-step embeddings over the history window -> an action chunk, through
    `num_layers` layers (each head's own default)."""

    hidden_size: int = 1024
    dropout: float = 0.1
    num_layers: int = 2

    def validate(self) -> None:
        _positive_int(self, 'hidden_size')
        _probability(self, 'dropout')
        _positive_int(self, 'num_layers')


@HEADS.register('mlp')
@dataclass
class MLPHeadConfig(HeadConfig):
    """MLP on the newest step's embedding (no history), seed: hidden 1024, dropout 0.1."""

    num_layers: int = 2


@HEADS.register('lstm')
@dataclass
class LSTMHeadConfig(HeadConfig):
    """LSTM over the window; arm head tanh, gripper head sigmoid (seed: 1024 hidden, 4 layers)."""

    num_layers: int = 4


@HEADS.register('gpt')
@dataclass
class GPTHeadConfig(HeadConfig):
    """GPT-style causal transformer over the window (seed: 6 layers, 16 heads)."""

    num_layers: int = 6
    num_heads: int = 16

    def validate(self) -> None:
        super().validate()
        _positive_int(self, 'num_heads')
        _check(self.hidden_size % self.num_heads == 0,
               f'GPTHeadConfig.hidden_size {self.hidden_size} must be divisible by num_heads '
               f'{self.num_heads}')


@HEADS.register('discrete')
@dataclass
class DiscreteHeadConfig(HeadConfig):
    """Binned actions (256 bins over [-1, 1], decoded to bin centres) on an LSTM trunk."""

    num_layers: int = 2
    num_bins: int = 256

    def validate(self) -> None:
        super().validate()
        _check(isinstance(self.num_bins, int) and self.num_bins >= 2,
               f'DiscreteHeadConfig.num_bins must be >= 2, got {self.num_bins!r}')


# -------------------------------------------------------------------------------- policies

@dataclass
class PolicyConfig(_Config):
    """Fields every policy has."""

    action_space: str = 'base'
    chunk_size: int = 10
    control_dt: float = 0.1
    name: str = ''

    def validate(self) -> None:
        _check(self.action_space in ACTION_SPACE_NAMES,
               f'action_space must be one of {ACTION_SPACE_NAMES}, got {self.action_space!r}')
        _positive_int(self, 'chunk_size')
        _check(isinstance(self.control_dt, (int, float)) and self.control_dt > 0,
               f'control_dt must be > 0 s, got {self.control_dt!r}')


def _sub_config(registry: Registry[Any], value: Any, what: str) -> Any:
    if isinstance(value, _Config):
        return value
    if isinstance(value, Mapping):
        if 'type' not in value:
            raise ConfigError(f'{what} config needs a "type" ({", ".join(registry.names())})')
        return registry.get(str(value['type'])).from_dict(value)
    raise ConfigError(f'{what} must be a config object or a dict, got {type(value).__name__}')


@POLICIES.register('robovlms')
@dataclass
class RoboVLMsConfig(PolicyConfig):
    """RoboVLMs "policy head, continuous action": backbone per step + head over a window.

    window_size: history steps the head sees (seed 16); chunk_size: actions predicted per
    inference (seed 10); n_action_steps: actions `select_action` executes before predicting
    again (default: the whole chunk); condition_on: which text conditions the backbone, the
    operator's original (e.g. Korean) or the normaliser's canonical English form;
    state_dim: robot-state vector length (0 = no state input); num_cameras: images per step.
    done_head: the termination signal: every head also predicts a `done` logit per chunk step
    (the task is finished at that step), trained with binary cross-entropy weighted
    `done_loss_weight`. Without it a policy cannot end its own task (checkpoints written
    before it existed load with done_head false and a warning saying so).
    """

    backbone: Any = field(default_factory=NanoBackboneConfig)
    head: Any = field(default_factory=LSTMHeadConfig)
    window_size: int = 16
    n_action_steps: int = 0
    condition_on: str = 'original'
    state_dim: int = 0
    num_cameras: int = 1
    loss_beta: float = 0.1
    gripper_loss_weight: float = 0.01
    done_head: bool = False
    done_loss_weight: float = 0.5

    def __post_init__(self) -> None:
        self.backbone = _sub_config(BACKBONES, self.backbone, 'backbone')
        self.head = _sub_config(HEADS, self.head, 'head')
        if not self.n_action_steps:
            self.n_action_steps = self.chunk_size
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        _positive_int(self, 'window_size', 'n_action_steps', 'num_cameras')
        _check(self.n_action_steps <= self.chunk_size,
               f'n_action_steps {self.n_action_steps} > chunk_size {self.chunk_size}')
        _check(self.condition_on in CONDITION_CHOICES,
               f'condition_on must be one of {CONDITION_CHOICES}, got {self.condition_on!r}')
        _check(isinstance(self.state_dim, int) and self.state_dim >= 0,
               f'state_dim must be >= 0, got {self.state_dim!r}')
        _check(self.loss_beta > 0, f'loss_beta must be > 0, got {self.loss_beta!r}')
        _check(self.gripper_loss_weight >= 0, 'gripper_loss_weight must be >= 0')
        _check(isinstance(self.done_head, bool),
               f'done_head must be true or false, got {self.done_head!r}')
        _check(isinstance(self.done_loss_weight, (int, float)) and self.done_loss_weight >= 0,
               f'done_loss_weight must be >= 0, got {self.done_loss_weight!r}')


def config_from_dict(data: Mapping[str, Any]) -> PolicyConfig:
    """Build a registered policy config from its `to_dict()` form (type key required)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f'a policy config must be a JSON object, got {type(data).__name__}')
    if 'type' not in data:
        raise ConfigError(f'policy config has no "type" (one of {POLICIES.names()})')
    return POLICIES.get(str(data['type'])).from_dict(data)
