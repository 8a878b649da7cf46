"""RoboVLMs "policy head, continuous action" policy in torch: build, train, save, load, act."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from .action_space import Normalizer
from .base import (NORMALIZATION_FILE, Policy, read_config, TOKENIZER_DIR,
                   warn_without_done_signal, WEIGHTS_FILE, write_config)
from .config import RoboVLMsConfig
from .errors import CheckpointError, ConfigError, ObservationError
from .model import VLAModel


def _as_tensor(value: Any, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))
    return t.to(dtype) if dtype is not None else t


class RoboVLMsPolicy(Policy):
    """Backbone + policy head over a history window, predicting an action chunk.

    Build a new one with `RoboVLMsPolicy(config, normalizer)`, train `policy.model` (an
    nn.Module) with `policy.compute_loss(batch)['loss']`, save with `save_pretrained(dir)`
    and load with `RoboVLMsPolicy.from_pretrained(dir)`.
    """

    backend = 'robovlms'

    def __init__(self, config: RoboVLMsConfig, normalizer: Optional[Normalizer] = None,
                 model: Optional[VLAModel] = None, device: str = 'cpu') -> None:
        if not isinstance(config, RoboVLMsConfig):
            raise ConfigError('RoboVLMsPolicy needs a RoboVLMsConfig, got '
                              f'{type(config).__name__}')
        normalizer = normalizer or Normalizer.default(config.action_space, config.state_dim)
        super().__init__(config, normalizer)
        self.device = torch.device(device)
        self.model = (model or VLAModel(config)).to(self.device)
        self.model.eval()

    @property
    def image_size(self) -> int:
        return int(self.model.backbone.image_size)

    def parameters(self) -> Any:
        """The trainable parameters of the model (for an optimiser)."""
        return (p for p in self.model.parameters() if p.requires_grad)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.model.parameters()
                   if p.requires_grad or not trainable_only)

    # ----------------------------------------------------------------- inference hooks
    @torch.no_grad()
    def _encode_step(self, images: Tuple[np.ndarray, ...], text: str,
                     state: Optional[np.ndarray]) -> torch.Tensor:
        self.model.eval()
        imgs = torch.from_numpy(np.stack(images))[None, None].to(self.device)  # (1,1,K,S,S,3)
        tokens = {k: v.to(self.device) for k, v in self.model.backbone.tokenize([text]).items()}
        st = None if state is None else torch.from_numpy(state)[None, None].to(self.device)
        return self.model.embed(imgs, tokens, st)[0, 0]

    @torch.no_grad()
    def _predict_with_done(self, history: List[torch.Tensor]
                           ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        self.model.eval()
        emb = torch.stack(history)[None]                                        # (1, T, D)
        actions, done = self.model.predict(emb)
        return (actions[0, -1].cpu().numpy(),
                None if done is None else done[0, -1].cpu().numpy())

    def _predict_normalized(self, history: List[torch.Tensor]) -> np.ndarray:
        return self._predict_with_done(history)[0]

    # ----------------------------------------------------------------- training
    def texts_of(self, batch: Mapping[str, Any]) -> List[str]:
        """The conditioning texts of a batch ('instruction' or 'canonical' per the config)."""
        key = 'canonical' if self.config.condition_on == 'canonical' else 'instruction'
        if key not in batch:
            raise ObservationError(f'batch has no {key!r} texts (condition_on='
                                   f'{self.config.condition_on})')
        texts = [str(t) for t in batch[key]]
        if any(not t.strip() for t in texts):
            raise ObservationError(f'batch contains an empty {key!r} text')
        return texts

    def compute_loss(self, batch: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
        """Training loss of a batch of windows.

        batch:
          images       (B, T, H, W, 3) uint8 RGB (or (B, T, K, H, W, 3) for K cameras), any
                       size (resized to the backbone size; store them at that size to save time)
          instruction  B original texts (and/or `canonical`: B canonical texts)
          actions      (B, T, chunk, dims) float, SI units: the actions from each step on
          action_mask  optional (B, T, chunk) or (B, T) bool: which targets exist (episode
                       end, padded start)
          state        (B, T, state_dim) float SI, when config.state_dim > 0
          done         (B, T, chunk) 0/1: the task is finished at that step, when
                       config.done_head (past a demonstration's end: 1)
        Returns {'loss', 'loss_action', ['loss_gripper', 'gripper_accuracy' | 'bin_error'],
        ['loss_done', 'done_accuracy']}.
        """
        images = _as_tensor(batch['images']).to(self.device)
        actions = _as_tensor(batch['actions'], torch.float32).to(self.device)
        b, t = images.shape[:2]
        expected = (b, t, self.config.chunk_size, self.action_space.dims)
        if tuple(actions.shape) != expected:
            raise ObservationError(f'actions have shape {tuple(actions.shape)}, expected '
                                   f'{expected} (B, T, chunk, dims)')
        mask = batch.get('action_mask')
        if mask is None:
            mask = torch.ones(expected[:3], dtype=torch.bool, device=self.device)
        else:
            mask = _as_tensor(mask).to(self.device).bool()
            if mask.dim() == 2:
                mask = mask.unsqueeze(-1).expand(expected[:3])
        tokens = {k: v.to(self.device)
                  for k, v in self.model.backbone.tokenize(self.texts_of(batch)).items()}
        state = None
        if self.config.state_dim:
            if batch.get('state') is None:
                raise ObservationError('the policy has state_dim > 0 but the batch has no state')
            state = self.normalizer.normalize_state(
                _as_tensor(batch['state'], torch.float32).to(self.device))
        done = None
        if self.config.done_head:
            if batch.get('done') is None:
                raise ObservationError('the policy has a done head but the batch has no '
                                       '`done` targets')
            done = _as_tensor(batch['done'], torch.float32).to(self.device)
            if tuple(done.shape) != expected[:3]:
                raise ObservationError(f'done has shape {tuple(done.shape)}, expected '
                                       f'{expected[:3]} (B, T, chunk)')
        target = self.normalizer.normalize_action(actions)
        emb = self.model.embed(images, tokens, state)
        out = self.model(emb)
        head = self.model.head
        losses = head.loss(out, target, mask, self.config.loss_beta,
                           self.config.gripper_loss_weight)
        if done is not None:
            losses.update(head.done_loss(out, done))
            losses['loss'] = losses['loss'] + self.config.done_loss_weight * losses['loss_done']
        return losses

    # ----------------------------------------------------------------- persistence
    def save_pretrained(self, path: str) -> None:
        """config.json + model.safetensors + normalization.json + tokenizer/."""
        from safetensors.torch import save_model

        cfg = self.config
        backbone = self.model.backbone
        if hasattr(backbone, 'model_config_dict'):
            # Store the resolved Kosmos-2 configuration: loading never needs `pretrained`.
            cfg = RoboVLMsConfig.from_dict({**cfg.to_dict(), 'backbone': {
                **cfg.backbone.to_dict(), 'model_config': backbone.model_config_dict,
                'tokenizer_path': ''}})
        os.makedirs(path, exist_ok=True)
        write_config(path, cfg)
        save_model(self.model, os.path.join(path, WEIGHTS_FILE),
                   metadata={'format': 'pt', 'policy': 'robovlms'})
        self.normalizer.save(os.path.join(path, NORMALIZATION_FILE))
        backbone.save_tokenizer(os.path.join(path, TOKENIZER_DIR))

    @classmethod
    def from_pretrained(cls, path: str, device: str = 'cpu', **kwargs: Any) -> 'RoboVLMsPolicy':
        """Load a checkpoint written by `save_pretrained`.

        Raises CheckpointError naming the problem when the directory, the config, the
        weights, the statistics or the tokenizer are missing, corrupt or do not match.
        """
        cfg = read_config(path)
        warn_without_done_signal(cfg, path)
        normalizer = Normalizer.load(os.path.join(path, NORMALIZATION_FILE))
        tok_dir = os.path.join(path, TOKENIZER_DIR)
        if not os.path.isdir(tok_dir):
            raise CheckpointError(f'{path}: tokenizer directory {TOKENIZER_DIR}/ missing')
        weights = os.path.join(path, WEIGHTS_FILE)
        if not os.path.isfile(weights):
            raise CheckpointError(f'{path}: weights file {WEIGHTS_FILE} missing')
        try:
            model = VLAModel(cfg, tokenizer_dir=tok_dir, load_weights=False)
        except ConfigError as exc:
            raise CheckpointError(f'{path}: cannot build the model: {exc}') from exc
        load_state(model, weights)
        policy = cls(cfg, normalizer, model=model, device=device)
        policy.source = os.path.abspath(path)
        return policy


def load_state(model: torch.nn.Module, weights: str) -> None:
    """Load a safetensors file strictly into `model` (CheckpointError on any mismatch)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f'corrupt weights file {weights}: {exc}') from exc
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    # save_model drops tensors that share storage with another one; those are tied weights.
    missing = [k for k in missing if not _is_tied(model, k)]
    unexpected = sorted(set(state) - set(own))
    mismatched = [f'{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}'
                  for k in set(state) & set(own) if state[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        raise CheckpointError(
            f'weights in {weights} do not match the configuration: '
            f'{len(missing)} missing {missing[:5]}, {len(unexpected)} unexpected '
            f'{unexpected[:5]}, {len(mismatched)} with another shape {mismatched[:5]}')
    model.load_state_dict(state, strict=False)


def _is_tied(model: torch.nn.Module, key: str) -> bool:
    tied = getattr(model, '_tied_keys', None)
    if tied is None:
        by_ptr: Dict[int, List[str]] = {}
        for k, v in model.state_dict().items():
            by_ptr.setdefault(v.data_ptr(), []).append(k)
        tied = {k for keys in by_ptr.values() if len(keys) > 1 for k in keys}
        model._tied_keys = tied
    return key in tied


def make_policy(action_space: str = 'base', backbone: Any = 'nano', head: Any = 'lstm',
                normalizer: Optional[Normalizer] = None, **fields: Any) -> RoboVLMsPolicy:
    """Convenience: a new randomly initialised policy from names or config dicts.

    make_policy('base', {'type': 'nano', 'image_size': 64}, {'type': 'lstm',
    'hidden_size': 256, 'num_layers': 2}, window_size=8, chunk_size=10)
    """
    bb = {'type': backbone} if isinstance(backbone, str) else backbone
    hd = {'type': head} if isinstance(head, str) else head
    cfg = RoboVLMsConfig(action_space=action_space, backbone=bb, head=hd, **fields)
    return RoboVLMsPolicy(cfg, normalizer)


def stack_windows(windows: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Collate per-sample dicts (numpy arrays / strings) into a compute_loss batch."""
    out: Dict[str, Any] = {}
    for key in windows[0]:
        values = [w[key] for w in windows]
        out[key] = values if isinstance(values[0], str) else np.stack(values)
    return out
