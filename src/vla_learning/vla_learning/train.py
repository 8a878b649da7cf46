"""`vla_train`: train a RoboVLMs-style policy (nano + LSTM by default) on the converted dataset.

CPU by default (cuda when available and `--device auto`). Validation split by episode (from
the dataset's meta). Each epoch: a checkpoint (`save_pretrained` + optimizer/scheduler/RNG
state) in <out>/last/, resumed automatically when present; the loss curves as PNG; the final
policy in <out>/ (config.json, model.safetensors, normalization.json, tokenizer/). A wall
time budget (--time-budget-min) stops training early and still writes the final policy.
The same command trains the Kosmos-2 variant (`--backbone kosmos2 --pretrained DIR`: frozen
backbone, trainable action token + projection + head) on a GPU machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np


#: The shipped model's backbone: nano at 64 px with slim stages and a one-layer text encoder.
#: Measured here (1 thread, batch 16, window 2): 75 ms per step against 370 ms for the
#: library's default widths (32-64-96-128, text 128x2, LSTM 256x2), which in a 24-minute
#: budget reached only ~3 epochs and stayed at the constant-action plateau.
NANO_DEFAULT: Dict[str, Any] = {'type': 'nano', 'image_size': 64, 'augment_shift': 4,
                                'channels': [16, 32, 64, 96], 'text_dim': 64,
                                'text_layers': 1, 'spatial_channels': 16}
LSTM_DEFAULT: Dict[str, Any] = {'type': 'lstm', 'hidden_size': 128, 'num_layers': 1}


@dataclass
class TrainConfig:
    dataset: str = 'data/dataset'
    out: str = 'runs/train'
    backbone: Dict[str, Any] = field(default_factory=lambda: dict(NANO_DEFAULT))
    head: Dict[str, Any] = field(default_factory=lambda: dict(LSTM_DEFAULT))
    window_size: int = 2
    max_stride: int = 7
    chunk_size: int = 10
    state_dim: int = 0
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    mirror_prob: float = 0.5
    paraphrase_prob: float = 0.0    # replace the recorded text by another train paraphrase
    init_from: str = ''             # start from this checkpoint's weights (fine-tuning)
    # Which text conditions the policy: 'canonical' (the normaliser's form: every paraphrase
    # the instruction node understands reads the same to the policy) or 'original' (the
    # Korean as given: the policy itself must generalise across phrasings).
    condition_on: str = 'canonical'
    # The termination signal: a done logit per chunk step, so the policy ends its own task.
    done_head: bool = True
    done_loss_weight: float = 0.5
    val_windows: int = 512
    seed: int = 0
    # One thread: on the shared 2-core machine two OpenMP threads competing with other jobs
    # ran up to 30x slower per step (1.4 s against 44 ms measured).
    threads: int = 1
    device: str = 'auto'
    time_budget_min: float = 0.0
    max_steps: int = 0              # 0 = no limit (tests, smoke runs)
    name: str = 'nano-lstm-base'


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def build_policy(cfg: TrainConfig, normalizer, device: str):
    from vla_policy_node.policies import RoboVLMsConfig, RoboVLMsPolicy

    pcfg = RoboVLMsConfig(action_space='base', backbone=dict(cfg.backbone),
                          head=dict(cfg.head), window_size=cfg.window_size,
                          chunk_size=cfg.chunk_size, control_dt=0.1, state_dim=cfg.state_dim,
                          condition_on=cfg.condition_on, done_head=cfg.done_head,
                          done_loss_weight=cfg.done_loss_weight, name=cfg.name)
    return RoboVLMsPolicy(pcfg, normalizer, device=device)


def lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def plot_curves(history: Dict[str, List], path: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.asarray(history['step'])
    loss = np.asarray(history['train_loss'])
    if len(loss):
        k = max(1, len(loss) // 50)
        smooth = np.convolve(loss, np.ones(k) / k, mode='valid')
        ax.plot(steps, loss, color='tab:blue', alpha=0.25, lw=0.8)
        ax.plot(steps[k - 1:], smooth, color='tab:blue', label='train (smoothed)')
    if history['val_step']:
        ax.plot(history['val_step'], history['val_loss'], 'o-', color='tab:red',
                label='validation (held-out episodes)')
    ax.set_xlabel('optimizer step')
    ax.set_ylabel('loss (smooth-L1, normalised actions)')
    ax.set_yscale('log')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate_loss(policy, dataset, cfg: TrainConfig) -> Dict[str, float]:
    """Mean validation losses ('loss', and with a done head 'loss_done', 'done_accuracy')."""
    import torch

    from vla_learning.data import batches

    if dataset is None:
        return {'loss': float('nan')}
    dataset.set_epoch(cfg.seed + 7919)
    policy.model.eval()
    totals: Dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for batch in batches(dataset, cfg.batch_size, True, cfg.seed, cfg.val_windows):
            losses = policy.compute_loss(batch)
            b = len(batch['instruction'])
            for key in ('loss', 'loss_done', 'done_accuracy'):
                if key in losses:
                    totals[key] = totals.get(key, 0.0) + float(losses[key]) * b
            n += b
    policy.model.train()
    return {k: v / max(1, n) for k, v in totals.items()}


def train(cfg: TrainConfig, progress: bool = True, log=print) -> Dict[str, Any]:
    """Train (or resume) and write the final checkpoint to cfg.out; returns the summary."""
    import torch
    from tqdm import tqdm
    from vla_policy_node.policies import Normalizer, RoboVLMsPolicy

    from vla_learning.data import (batches, canonical_text, load_episodes, read_meta,
                                   WindowDataset)

    torch.set_num_threads(max(1, cfg.threads))
    device = cfg.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    seed_everything(cfg.seed)
    meta = read_meta(cfg.dataset)
    normalizer = Normalizer.from_dict(meta['stats']['normalizer'])
    if cfg.state_dim == 0:
        normalizer = Normalizer.from_dict({**normalizer.to_dict(), 'state_mean': [],
                                           'state_std': []})
    episodes = load_episodes(cfg.dataset)
    train_eps = [e for e in episodes if e.split == 'train']
    val_eps = [e for e in episodes if e.split == 'val']
    if cfg.done_head and any(e.done is None for e in episodes):
        raise SystemExit(f'[train] {cfg.dataset} has no done labels (action.done): convert '
                         'demonstrations recorded with the expert\'s stop, or --no-done-head')
    from vla_learning.common import paraphrase_split

    train_ds = WindowDataset(train_eps, cfg.window_size, cfg.chunk_size, cfg.max_stride,
                             cfg.mirror_prob, cfg.seed, state=cfg.state_dim > 0,
                             paraphrases=paraphrase_split()[0],
                             paraphrase_prob=cfg.paraphrase_prob)
    val_ds = (WindowDataset(val_eps, cfg.window_size, cfg.chunk_size, cfg.max_stride, 0.0,
                            cfg.seed, state=cfg.state_dim > 0) if val_eps else None)
    os.makedirs(cfg.out, exist_ok=True)
    last = os.path.join(cfg.out, 'last')
    state_file = os.path.join(last, 'training_state.pt')
    steps_per_epoch = math.ceil(len(train_ds) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    history: Dict[str, List] = {'step': [], 'train_loss': [], 'val_step': [], 'val_loss': [],
                                'epoch_time': []}
    start_epoch, step, elapsed = 0, 0, 0.0
    if os.path.isfile(state_file):
        policy = RoboVLMsPolicy.from_pretrained(last, device=device)
        st = torch.load(state_file, map_location=device, weights_only=False)
        if st['config'] != asdict(cfg) and any(
                st['config'].get(k) != v for k, v in asdict(cfg).items()
                if k not in ('epochs', 'time_budget_min', 'threads', 'device', 'max_steps')):
            raise SystemExit(f'[train] {last} was trained with another configuration; '
                             f'use a new --out')
        start_epoch, step, history, elapsed = (st['epoch'], st['step'], st['history'],
                                               st['elapsed'])
        log(f'[train] resuming from {last} at epoch {start_epoch} (step {step})')
    elif cfg.init_from:
        policy = RoboVLMsPolicy.from_pretrained(cfg.init_from, device=device)
        if policy.config.to_dict() != build_policy(cfg, normalizer, 'cpu').config.to_dict():
            raise SystemExit(f'[train] {cfg.init_from} has another model configuration')
        policy.normalizer = normalizer
        log(f'[train] starting from the weights of {cfg.init_from}')
        st = None
    else:
        policy = build_policy(cfg, normalizer, device)
        st = None
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    # The schedule's length; with a time budget it is fitted after the first epoch, so the
    # cosine decay ends when the budget does (stored with the state: resumes agree).
    plan = {'epochs': cfg.epochs}
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, plan['epochs'] * steps_per_epoch, cfg.warmup_steps))
    if st is not None:
        opt.load_state_dict(st['optimizer'])
        sched.load_state_dict(st['scheduler'])
        torch.set_rng_state(st['torch_rng'])
        # Asked for another number of epochs: extend (or shorten) the schedule; otherwise keep
        # the one the interrupted run had fitted to its budget.
        same = st['config'].get('epochs') == cfg.epochs
        plan['epochs'] = st.get('planned_epochs', cfg.epochs) if same else cfg.epochs
    if cfg.condition_on == 'canonical':
        # Fail before the first step if a recorded instruction (or its mirror) is one the
        # instruction node would refuse: the policy could never see it at run time.
        from vla_instruction.core.normalizer import swap_sides
        for ep in list(train_eps) + list(val_eps):
            canonical_text(ep.instruction)
            if cfg.mirror_prob > 0:
                canonical_text(swap_sides(ep.instruction))
    log(f'[train] {len(train_eps)} train / {len(val_eps)} val episodes, '
        f'{len(train_ds)} windows/epoch, {steps_per_epoch} steps/epoch, '
        f'{policy.num_parameters(True):,} trainable parameters, device {device}')
    policy.model.train()
    t_start = time.monotonic() - elapsed
    stopped_early = False
    bar = tqdm(total=total_steps, initial=step, desc='train', unit='step',
               disable=not progress, file=sys.stderr)
    for epoch in range(start_epoch, cfg.epochs):
        if epoch >= plan['epochs']:
            break
        t_epoch = time.monotonic()
        train_ds.set_epoch(cfg.seed * 100_003 + epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        for batch in batches(train_ds, cfg.batch_size, True, cfg.seed * 7 + epoch):
            losses = policy.compute_loss(batch)
            opt.zero_grad(set_to_none=True)
            losses['loss'].backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            history['step'].append(step)
            history['train_loss'].append(float(losses['loss'].detach()))
            bar.update(1)
            if cfg.max_steps and step >= cfg.max_steps:
                break
            if step % 10 == 0:
                bar.set_postfix(loss=f'{np.mean(history["train_loss"][-50:]):.4f}',
                                lr=f'{sched.get_last_lr()[0]:.1e}')
        val_losses = evaluate_loss(policy, val_ds, cfg)
        val = val_losses['loss']
        history['val_step'].append(step)
        history['val_loss'].append(val)
        history.setdefault('val_done_accuracy', []).append(val_losses.get('done_accuracy'))
        history['epoch_time'].append(time.monotonic() - t_epoch)
        elapsed = time.monotonic() - t_start
        done_note = (f' (done accuracy {val_losses["done_accuracy"]:.3f})'
                     if 'done_accuracy' in val_losses else '')
        bar.write(f'[train] epoch {epoch + 1}/{cfg.epochs}: train '
                  f'{np.mean(history["train_loss"][-steps_per_epoch:]):.4f}, val {val:.4f}'
                  f'{done_note}, {history["epoch_time"][-1]:.0f} s (total {elapsed / 60:.1f} '
                  'min)')
        if cfg.time_budget_min:
            # Refit the schedule to the budget after every epoch (the machine is shared: epoch
            # times vary several-fold); never below the epochs already done.
            remaining = cfg.time_budget_min * 60 * 0.97 - elapsed
            fit = epoch + 1 + int(remaining / np.mean(history['epoch_time']))
            new_plan = max(epoch + 1, min(cfg.epochs, fit))
            if new_plan != plan['epochs']:
                bar.write(f'[train] {cfg.time_budget_min:.0f} min budget: {new_plan} epochs '
                          f'(mean epoch {np.mean(history["epoch_time"]):.0f} s)')
            plan['epochs'] = new_plan
            stopped_early = plan['epochs'] < cfg.epochs
        policy.save_pretrained(last)
        torch.save({'planned_epochs': plan['epochs'], 'epoch': epoch + 1, 'step': step,
                    'history': history,
                    'elapsed': elapsed, 'optimizer': opt.state_dict(),
                    'scheduler': sched.state_dict(), 'torch_rng': torch.get_rng_state(),
                    'config': asdict(cfg)}, state_file + '.tmp')
        os.replace(state_file + '.tmp', state_file)
        plot_curves(history, os.path.join(cfg.out, 'loss_curves.png'))
        if cfg.max_steps and step >= cfg.max_steps:
            break
    bar.close()
    policy.model.eval()
    policy.save_pretrained(cfg.out)
    plot_curves(history, os.path.join(cfg.out, 'loss_curves.png'))
    summary = {'train_episodes': len(train_eps), 'val_episodes': len(val_eps),
               'train_frames': int(sum(len(e) for e in train_eps)),
               'epochs_done': len(history['val_loss']), 'steps': step,
               'final_train_loss': float(np.mean(history['train_loss'][-steps_per_epoch:]))
               if history['train_loss'] else float('nan'),
               'final_val_loss': history['val_loss'][-1] if history['val_loss'] else None,
               'final_val_done_accuracy': (history.get('val_done_accuracy') or [None])[-1],
               'train_minutes': round(elapsed / 60, 2), 'stopped_early': stopped_early,
               'parameters': policy.num_parameters(), 'config': asdict(cfg)}
    with open(os.path.join(cfg.out, 'train_summary.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    d = TrainConfig()
    parser = argparse.ArgumentParser(prog='vla_train', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', default=d.dataset)
    parser.add_argument('--out', default=d.out, help='checkpoint directory (resumed if '
                        '<out>/last/ exists)')
    parser.add_argument('--backbone', default='nano', choices=('nano', 'kosmos2'))
    parser.add_argument('--image-size', type=int, default=64, help='nano input size')
    parser.add_argument('--pretrained', default='', help='kosmos2: local weights directory')
    parser.add_argument('--backbone-config', default='',
                        help='JSON dict merged into the backbone config')
    parser.add_argument('--head', default='lstm', choices=('lstm', 'mlp', 'gpt', 'discrete'))
    parser.add_argument('--head-config', default='', help='JSON dict merged into the head '
                        'config (default hidden 128, 1 layer)')
    parser.add_argument('--window', type=int, default=d.window_size)
    parser.add_argument('--max-stride', type=int, default=d.max_stride)
    parser.add_argument('--chunk', type=int, default=d.chunk_size)
    parser.add_argument('--epochs', type=int, default=d.epochs)
    parser.add_argument('--batch-size', type=int, default=d.batch_size)
    parser.add_argument('--lr', type=float, default=d.lr)
    parser.add_argument('--mirror-prob', type=float, default=d.mirror_prob)
    parser.add_argument('--paraphrase-prob', type=float, default=d.paraphrase_prob,
                        help='probability of replacing the recorded instruction by another '
                        'train-split paraphrase of the scenario')
    parser.add_argument('--condition-on', default=d.condition_on,
                        choices=('canonical', 'original'),
                        help="text the policy is conditioned on: the normaliser's canonical "
                        'form (default) or the original Korean')
    parser.add_argument('--no-done-head', dest='done_head', action='store_false',
                        help='no termination signal (the policy cannot end its task)')
    parser.add_argument('--done-loss-weight', type=float, default=d.done_loss_weight,
                        help='weight of the done BCE against the action loss')
    parser.add_argument('--init-from', default='', help='checkpoint whose weights start '
                        'the training (fine-tuning)')
    parser.add_argument('--warmup-steps', type=int, default=d.warmup_steps)
    parser.add_argument('--seed', type=int, default=d.seed)
    parser.add_argument('--threads', type=int, default=d.threads)
    parser.add_argument('--device', default=d.device)
    parser.add_argument('--time-budget-min', type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.backbone == 'nano':
        backbone: Dict[str, Any] = {**NANO_DEFAULT, 'image_size': args.image_size,
                                    'augment_shift': max(1, args.image_size // 16)}
    else:
        backbone = {'type': 'kosmos2', 'pretrained': args.pretrained, 'freeze': True}
    if args.backbone_config:
        backbone.update(json.loads(args.backbone_config))
    head: Dict[str, Any] = {'type': args.head, 'hidden_size': LSTM_DEFAULT['hidden_size']}
    if args.head in ('lstm', 'discrete'):
        head['num_layers'] = LSTM_DEFAULT['num_layers']
    if args.head == 'gpt':
        head.update({'num_layers': 2, 'num_heads': 4})
    if args.head_config:
        head.update(json.loads(args.head_config))
    cfg = TrainConfig(args.dataset, args.out, backbone, head, args.window, args.max_stride,
                      args.chunk, 0, args.epochs, args.batch_size, args.lr,
                      warmup_steps=args.warmup_steps, mirror_prob=args.mirror_prob,
                      paraphrase_prob=args.paraphrase_prob, init_from=args.init_from,
                      condition_on=args.condition_on, done_head=args.done_head,
                      done_loss_weight=args.done_loss_weight,
                      seed=args.seed, threads=args.threads,
                      device=args.device, time_budget_min=args.time_budget_min,
                      name=f'{args.backbone}-{args.head}-base')
    t0 = time.monotonic()
    summary = train(cfg)
    print(f'[train] done: {summary["epochs_done"]} epochs, {summary["steps"]} steps, '
          f'train loss {summary["final_train_loss"]:.4f}, val loss {summary["final_val_loss"]}, '
          f'{(time.monotonic() - t0) / 60:.1f} min this run -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
