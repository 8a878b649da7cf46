"""Command-line tools: create a (randomly initialised) checkpoint, export one to ONNX.

  init_policy --out DIR [--action-space base|arm] [--backbone nano] [--head lstm] [--tiny]
      A new policy with random weights, saved with save_pretrained: for wiring tests and
      as the starting point of training. It moves the robot meaninglessly - never ship one.
  export_policy_onnx DIR [--opset 17] [--no-verify]
      Writes DIR/onnx/{encoder,head}.onnx + export.json (backend `onnx` of the policy node).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, List, Optional


def init_policy(argv: Optional[List[str]] = None) -> int:
    """Entry point `init_policy`."""
    ap = argparse.ArgumentParser(description='Create a randomly initialised policy checkpoint.')
    ap.add_argument('--out', required=True, help='checkpoint directory to write')
    ap.add_argument('--action-space', default='base', choices=('base', 'arm'))
    ap.add_argument('--backbone', default='nano', help='backbone type or a JSON object')
    ap.add_argument('--head', default='lstm', help='head type or a JSON object')
    ap.add_argument('--tiny', action='store_true', help='tiny sizes (tests, wiring)')
    ap.add_argument('--window', type=int, default=16)
    ap.add_argument('--chunk', type=int, default=10)
    ap.add_argument('--state-dim', type=int, default=0)
    ap.add_argument('--condition-on', default='original', choices=('original', 'canonical'))
    ap.add_argument('--name', default='')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--nan', action='store_true',
                    help='fill the head weights with NaN (fault-injection tests only)')
    args = ap.parse_args(argv)

    import torch

    from .policies import make_policy
    from .policies.presets import TINY_HEADS, TINY_NANO

    torch.manual_seed(args.seed)
    backbone: Any = json.loads(args.backbone) if args.backbone.startswith('{') else \
        {'type': args.backbone}
    head: Any = json.loads(args.head) if args.head.startswith('{') else {'type': args.head}
    if args.tiny:
        if backbone.get('type') == 'nano':
            backbone = {**TINY_NANO, **backbone}
        head = {**TINY_HEADS.get(head['type'], {}), **head}
    policy = make_policy(args.action_space, backbone, head, window_size=args.window,
                         chunk_size=args.chunk, state_dim=args.state_dim,
                         condition_on=args.condition_on, name=args.name)
    if args.nan:
        with torch.no_grad():
            for p in policy.model.head.parameters():
                p.fill_(float('nan'))
    policy.save_pretrained(args.out)
    print(f'wrote {args.out}: {policy.describe()}, {policy.num_parameters():,} parameters')
    return 0


def export_policy_onnx(argv: Optional[List[str]] = None) -> int:
    """Entry point `export_policy_onnx`."""
    ap = argparse.ArgumentParser(description='Export a policy checkpoint to ONNX.')
    ap.add_argument('checkpoint')
    ap.add_argument('--out', default=None, help='default: <checkpoint>/onnx')
    ap.add_argument('--opset', type=int, default=17)
    ap.add_argument('--no-verify', action='store_true')
    args = ap.parse_args(argv)

    from .policies import export_onnx, PolicyError, RoboVLMsPolicy

    try:
        policy = RoboVLMsPolicy.from_pretrained(args.checkpoint)
        info = export_onnx(policy, args.out, args.opset, verify=not args.no_verify)
    except PolicyError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0
