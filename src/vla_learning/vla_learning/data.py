"""The converted dataset in memory, and a torch Dataset of windows + action chunks.

Each sample is the window of `window_size` frames ending at a frame of an episode, with
frames `stride` steps apart (stride drawn per sample in [1, max_stride]: the policy node
fills its history at inference time, i.e. about every 0.7 s with event triggers and every
0.1 s periodically, so the model must not depend on one spacing), and for every window step
the `chunk_size` expert actions from that step on (masked past the episode end).
Mirroring (probability `mirror_prob`): the image flipped left-right, linear_y and angular_z
negated, and the instruction's side words swapped (`swap_sides`) — a right-hand demonstration
becomes a left-hand one, so side words and image layout both have to be read.
For every window step also the termination labels of the same chunk steps (`done`: the
expert has ended its task there; past the episode's end the task stays done).
Every sample carries both texts: `instruction` (the Korean as recorded, after any paraphrase
or mirror swap) and `canonical` (what the instruction node's normaliser makes of it, the
text the policy node passes when the model is trained with `condition_on: canonical`).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional, Sequence

import numpy as np

MIRROR = np.array([1.0, -1.0, -1.0], np.float32)


@lru_cache(maxsize=4096)
def canonical_text(text: str) -> str:
    """The normaliser's canonical form of `text`, exactly as `instruction_node` publishes it.

    Raises ValueError for a text the normaliser does not understand: such a demonstration
    would teach the policy to act on an instruction the running stack refuses.
    """
    from vla_instruction.core.normalizer import normalize, Status

    reading = normalize(text)
    if reading.status != Status.UNDERSTOOD or not reading.canonical:
        raise ValueError(f'the normaliser does not understand the training instruction '
                         f'{text!r} ({reading.reason or reading.status.name})')
    return reading.canonical


@dataclass
class Episode:
    index: int
    name: str
    scenario: str
    split: str
    instruction: str
    images: np.ndarray    # (N, H, W, 3) uint8
    actions: np.ndarray   # (N, 3) float32 SI
    states: np.ndarray    # (N, 3)
    done: Optional[np.ndarray] = None   # (N,) bool termination labels (None: an old dataset)

    def __len__(self) -> int:
        return len(self.actions)


def read_meta(root: str) -> Dict[str, object]:
    with open(os.path.join(root, 'meta', 'info.json'), encoding='utf-8') as f:
        info = json.load(f)
    with open(os.path.join(root, 'meta', 'stats.json'), encoding='utf-8') as f:
        stats = json.load(f)
    with open(os.path.join(root, 'meta', 'episodes.jsonl'), encoding='utf-8') as f:
        episodes = [json.loads(line) for line in f if line.strip()]
    return {'info': info, 'stats': stats, 'episodes': episodes}


def load_episodes(root: str, splits: Sequence[str] = ('train', 'val')) -> List[Episode]:
    """Load the Parquet files with Hugging Face `datasets` (images decoded to uint8 arrays)."""
    from datasets import load_dataset
    from PIL import Image

    meta = read_meta(root)
    chosen = [e for e in meta['episodes'] if e['split'] in splits]
    if not chosen:
        return []
    files = [os.path.join(root, e['file']) for e in chosen]
    ds = load_dataset('parquet', data_files=files, split='train')
    columns = ['action', 'observation.state', 'episode_index', 'frame_index']
    has_done = 'action.done' in ds.column_names
    ds = ds.with_format('numpy', columns=columns + (['action.done'] if has_done else []))
    cols = ds[:]
    images_raw = load_dataset('parquet', data_files=files, split='train').cast_column(
        'observation.image', _image_feature(False))['observation.image']
    images = np.stack([np.asarray(Image.open(io.BytesIO(img['bytes'])).convert('RGB'))
                       for img in images_raw])
    ep_idx = np.asarray(cols['episode_index'])
    out = []
    for e in chosen:
        sel = np.nonzero(ep_idx == e['episode_index'])[0]
        sel = sel[np.argsort(np.asarray(cols['frame_index'])[sel])]
        out.append(Episode(e['episode_index'], e['name'], e['scenario'], e['split'],
                           e['instruction'], images[sel],
                           np.asarray(cols['action'])[sel].astype(np.float32),
                           np.asarray(cols['observation.state'])[sel].astype(np.float32),
                           np.asarray(cols['action.done'])[sel].astype(bool) if has_done
                           else None))
    return out


def _image_feature(decode: bool):
    from datasets import Image

    return Image(decode=decode)


class WindowDataset:
    """torch-style map Dataset: index -> one window (numpy arrays + the instruction text)."""

    def __init__(self, episodes: Sequence[Episode], window_size: int, chunk_size: int,
                 max_stride: int = 1, mirror_prob: float = 0.0, seed: int = 0,
                 state: bool = False,
                 paraphrases: Optional[Dict[str, List[str]]] = None,
                 paraphrase_prob: float = 0.0) -> None:
        if not episodes:
            raise ValueError('no episodes')
        self.episodes = list(episodes)
        self.window_size = int(window_size)
        self.chunk_size = int(chunk_size)
        self.max_stride = max(1, int(max_stride))
        self.mirror_prob = float(mirror_prob)
        self.state = state
        # Text resampling: with this probability a window gets another TRAIN paraphrase of its
        # scenario (72 demonstrations record at most 72 phrasings; the table has ~12 each).
        self.paraphrases = paraphrases or {}
        self.paraphrase_prob = float(paraphrase_prob)
        self.index = [(e, i) for e in range(len(self.episodes))
                      for i in range(len(self.episodes[e]))]
        self.rng = np.random.default_rng(seed)
        from vla_instruction.core.normalizer import swap_sides

        self._swap = swap_sides

    def set_epoch(self, seed: int) -> None:
        """Reseed augmentation (deterministic per epoch, also after a resume)."""
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.index)

    def frames(self, ep: Episode, i: int, stride: int) -> np.ndarray:
        w = self.window_size
        if w > 1 and i > 0:
            stride = min(stride, max(1, i // (w - 1)))
        return np.clip(i - stride * np.arange(w - 1, -1, -1), 0, None)

    def __getitem__(self, k: int) -> Dict[str, object]:
        e, i = self.index[k]
        ep = self.episodes[e]
        stride = int(self.rng.integers(1, self.max_stride + 1))
        idx = self.frames(ep, i, stride)
        steps = idx[:, None] + np.arange(self.chunk_size)[None, :]      # (T, C)
        mask = steps < len(ep)
        actions = ep.actions[np.minimum(steps, len(ep) - 1)]            # (T, C, 3)
        images = ep.images[idx]
        text = ep.instruction
        options = self.paraphrases.get(ep.scenario)
        if options and self.paraphrase_prob > 0 and self.rng.random() < self.paraphrase_prob:
            text = options[int(self.rng.integers(len(options)))]
        state = ep.states[idx]
        if self.mirror_prob > 0 and self.rng.random() < self.mirror_prob:
            images = images[:, :, ::-1]
            actions = actions * MIRROR
            state = state * MIRROR
            text = self._swap(text)
        sample = {'images': np.ascontiguousarray(images), 'instruction': text,
                  'canonical': canonical_text(text),
                  'actions': actions.astype(np.float32), 'action_mask': mask}
        if ep.done is not None:
            sample['done'] = ep.done[np.minimum(steps, len(ep) - 1)].astype(np.float32)
        if self.state:
            sample['state'] = state.astype(np.float32)
        return sample


def batches(dataset: WindowDataset, batch_size: int, shuffle: bool, seed: int,
            limit: Optional[int] = None):
    """Yield collated batches (stack_windows) in a seeded order."""
    from vla_policy_node.policies import stack_windows

    order = np.arange(len(dataset))
    if shuffle:
        np.random.default_rng(seed).shuffle(order)
    if limit is not None:
        order = order[:limit]
    for s in range(0, len(order), batch_size):
        yield stack_windows([dataset[int(k)] for k in order[s:s + batch_size]])
