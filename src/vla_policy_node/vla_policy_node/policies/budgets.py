"""Memory and latency budgets of the supported models, and the check the node runs on them.

`BUDGETS` is data: one row per supported model variant, with what was measured on the 2-core
development CPU (docs/policy.md section 4, `benchmarks/bench_policy.py models`) and what is
estimated for a Jetson Orin NX 16 GB. The Orin figures are derived, not measured (no device
here): a batch-1 pass over a model is bound by reading its weights once from the 102.4 GB/s
LPDDR5, so `weights / bandwidth` is a floor on latency — Kosmos-2 (1.66 B parameters) in fp16
is 3.3 GB, i.e. >= ~32 ms per backbone pass. A recurrent head re-reads its weights at every
window step (they do not fit the 4 MB L2). Memory = weights x 1.2 (activations, workspace) +
the runtime's own footprint; on the Jetson CPU and GPU share that memory, so it is compared
with the system's available memory.

A checkpoint is matched to a row by family (backbone variant, head type, dtype, backend) and
parameter count (within 15 %); anything else gets the same estimate computed from its
`model.safetensors` header (tensor shapes and dtypes, read without loading the weights).

Pure module: no torch, no rclpy.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

from .errors import CheckpointError

#: Jetson Orin NX 16 GB: LPDDR5 128-bit at 6400 MT/s.
ORIN_NX_BANDWIDTH_GBPS = 102.4
#: Resident footprint of a runtime before any model weights (MiB): measured here for the CPU
#: runtimes (torch import ~250 MiB, onnxruntime ~320 MiB); CUDA context + cuDNN/cuBLAS or the
#: TensorRT runtime on JetPack 6 are planning figures.
RUNTIME_OVERHEAD_MB = {
    'cpu:robovlms': 260.0, 'cpu:onnx': 330.0,
    'orin:robovlms': 1400.0, 'orin:onnx': 900.0, 'orin:tensorrt': 600.0,
}
ACTIVATION_FACTOR = 1.2
DTYPE_BYTES = {'float32': 4, 'fp32': 4, 'bfloat16': 2, 'bf16': 2, 'float16': 2, 'fp16': 2,
               'int8': 1}
SAFETENSORS_BYTES = {'F64': 8, 'F32': 4, 'F16': 2, 'BF16': 2, 'I64': 8, 'I32': 4, 'I16': 2,
                     'I8': 1, 'U8': 1, 'BOOL': 1}
#: Kosmos-2 text width at or above which the backbone is the full-size model.
KOSMOS2_FULL_WIDTH = 2048
MATCH_TOLERANCE = 0.15
MIB = 1024.0 * 1024.0


@dataclass(frozen=True)
class ModelBudget:
    """Budget of one model variant (memory MiB = whole-process resident set; latency ms)."""

    key: str
    backbone: str            # 'nano', 'kosmos2-tiny', 'kosmos2-full'
    head: str                # 'mlp', 'lstm', 'gpt', 'discrete'
    dtype: str               # 'fp32', 'bf16', 'fp16', 'int8'
    backend: str             # 'robovlms', 'onnx', 'tensorrt'
    params_m: float
    cpu_latency_ms: Optional[float]   # p50 of one inference, measured here (None: not measured)
    cpu_memory_mb: Optional[float]    # RSS measured here
    orin_latency_ms: float            # estimated floor on Orin NX 16 GB
    orin_memory_mb: float             # estimated need on Orin NX 16 GB
    note: str = ''

    def memory_mb(self, platform: str) -> float:
        """The memory the model needs on `platform` ('cpu' or 'orin')."""
        if platform == 'cpu' and self.cpu_memory_mb is not None:
            return self.cpu_memory_mb
        if platform == 'cpu':
            return _estimate_memory(self.params_m * 1e6 * DTYPE_BYTES[self.dtype],
                                    'cpu:' + ('onnx' if self.backend == 'onnx' else 'robovlms'))
        return self.orin_memory_mb


def _estimate_memory(weight_bytes: float, runtime: str) -> float:
    return weight_bytes * ACTIVATION_FACTOR / MIB + RUNTIME_OVERHEAD_MB[runtime]


def orin_latency_floor_ms(backbone_bytes: float, head_bytes: float, head: str,
                          window: int, bandwidth_gbps: float = ORIN_NX_BANDWIDTH_GBPS) -> float:
    """Weight-streaming floor of one inference: one backbone pass + the head over the window."""
    head_reads = window if head in ('lstm', 'discrete') else 1
    return (backbone_bytes + head_bytes * head_reads) / (bandwidth_gbps * 1e9) * 1e3


def _row(key: str, backbone: str, head: str, dtype: str, backend: str, params_m: float,
         head_m: float, cpu_ms: Optional[float], cpu_mb: Optional[float], window: int = 16,
         note: str = '') -> ModelBudget:
    """A table row whose Orin columns are derived from the sizes (one formula for all)."""
    deploy = 'fp16' if backend == 'tensorrt' and dtype == 'fp32' else dtype
    nbytes = DTYPE_BYTES[deploy]
    total, head_bytes = params_m * 1e6 * nbytes, head_m * 1e6 * nbytes
    return ModelBudget(
        key, backbone, head, dtype, backend, params_m, cpu_ms, cpu_mb,
        round(orin_latency_floor_ms(total - head_bytes, head_bytes, head, window), 2),
        round(_estimate_memory(total, 'orin:' + backend)), note)


#: Head sizes (M parameters) at the seed sizes, used to split backbone and head traffic.
_LSTM_SEED, _GPT_SEED, _DISC_SEED, _MLP_SEED = 29.2, 74.6, 20.2, 0.1

#: The supported models. CPU columns: measured here (2 shared cores, batch 1, 16-step window,
#: docs/policy.md section 4); fp16 on this CPU is not a deployment path and is not measured
#: (its memory equals bf16). Orin columns: estimated (see the module docstring).
BUDGETS: Tuple[ModelBudget, ...] = (
    _row('nano-mlp', 'nano', 'mlp', 'fp32', 'robovlms', 2.5, _MLP_SEED, 6.9, 281),
    _row('nano-lstm-seed', 'nano', 'lstm', 'fp32', 'robovlms', 31.7, _LSTM_SEED, 123.0, 393),
    _row('nano-gpt-seed', 'nano', 'gpt', 'fp32', 'robovlms', 77.1, _GPT_SEED, 68.9, 569),
    _row('nano-discrete-seed', 'nano', 'discrete', 'fp32', 'robovlms', 22.7, _DISC_SEED,
         59.3, 375),
    _row('nano-lstm256', 'nano', 'lstm', 'fp32', 'robovlms', 2.3, 0.8, 13.0, 281),
    _row('nano-lstm256-onnx', 'nano', 'lstm', 'fp32', 'onnx', 2.3, 0.8, 4.4, 347),
    _row('nano-lstm256-trt-fp16', 'nano', 'lstm', 'fp16', 'tensorrt', 2.3, 0.8, None, None),
    _row('kosmos2-tiny-mlp', 'kosmos2-tiny', 'mlp', 'fp32', 'robovlms', 1.4, _MLP_SEED, 6.2,
         433),
    _row('kosmos2-tiny-lstm', 'kosmos2-tiny', 'lstm', 'fp32', 'robovlms', 29.9, _LSTM_SEED,
         104.6, 545),
    _row('kosmos2-tiny-gpt', 'kosmos2-tiny', 'gpt', 'fp32', 'robovlms', 75.9, _GPT_SEED, 72.2,
         722),
    _row('kosmos2-tiny-lstm-onnx', 'kosmos2-tiny', 'lstm', 'fp32', 'onnx', 29.9, _LSTM_SEED,
         36.8, 753),
    _row('kosmos2-full-lstm-fp32', 'kosmos2-full', 'lstm', 'fp32', 'robovlms', 1702.3,
         _LSTM_SEED, 3846.0, 6982, note='2 threads'),
    _row('kosmos2-full-lstm-bf16', 'kosmos2-full', 'lstm', 'bf16', 'robovlms', 1702.3,
         _LSTM_SEED, 1545.0, 3776, note='2 threads'),
    _row('kosmos2-full-lstm-fp16', 'kosmos2-full', 'lstm', 'fp16', 'robovlms', 1702.3,
         _LSTM_SEED, None, None, note='CPU: not measured, memory as bf16'),
    _row('kosmos2-full-lstm-trt-fp16', 'kosmos2-full', 'lstm', 'fp16', 'tensorrt', 1702.3,
         _LSTM_SEED, None, None),
    _row('kosmos2-full-lstm-trt-int8', 'kosmos2-full', 'lstm', 'int8', 'tensorrt', 1702.3,
         _LSTM_SEED, None, None, note='weights int8 (calibrated)'),
)
BUDGETS_BY_KEY: Dict[str, ModelBudget] = {b.key: b for b in BUDGETS}


# --------------------------------------------------------------------------- checkpoints

@dataclass(frozen=True)
class WeightStats:
    """Parameter counts and bytes of a `model.safetensors`, split into backbone and head."""

    params: int
    head_params: int
    nbytes: int
    dtype: str               # the dominant stored dtype ('fp32', 'bf16', 'fp16', ...)


def safetensors_stats(path: str) -> WeightStats:
    """Read only the header of a safetensors file (no weights are loaded)."""
    try:
        with open(path, 'rb') as f:
            (length,) = struct.unpack('<Q', f.read(8))
            if length > 100 * 1024 * 1024:
                raise ValueError(f'header of {length} bytes')
            header = json.loads(f.read(length))
    except (OSError, ValueError, struct.error) as exc:
        raise CheckpointError(f'cannot read the safetensors header of {path}: {exc}') from exc
    params = head = nbytes = 0
    by_dtype: Dict[str, int] = {}
    for name, info in header.items():
        if name == '__metadata__' or not isinstance(info, dict):
            continue
        count = 1
        for dim in info.get('shape', ()):
            count *= int(dim)
        params += count
        if name.startswith('head.'):
            head += count
        size = SAFETENSORS_BYTES.get(str(info.get('dtype')), 4)
        nbytes += count * size
        by_dtype[str(info.get('dtype'))] = by_dtype.get(str(info.get('dtype')), 0) + count
    dominant = max(by_dtype, key=by_dtype.get) if by_dtype else 'F32'
    dtype = {'F32': 'fp32', 'BF16': 'bf16', 'F16': 'fp16', 'I8': 'int8'}.get(dominant, 'fp32')
    return WeightStats(params, head, nbytes, dtype)


def backbone_variant(config: object) -> str:
    """'nano', 'kosmos2-tiny' or 'kosmos2-full' for a RoboVLMsConfig."""
    backbone = getattr(config, 'backbone', None)
    kind = getattr(backbone, 'type', '') or type(backbone).__name__.lower()
    if 'kosmos' not in kind:
        return 'nano'
    model_config = getattr(backbone, 'model_config', None) or {}
    text = model_config.get('text_config', {}) if isinstance(model_config, dict) else {}
    width = int(text.get('embed_dim', KOSMOS2_FULL_WIDTH) or KOSMOS2_FULL_WIDTH)
    return 'kosmos2-full' if width >= KOSMOS2_FULL_WIDTH else 'kosmos2-tiny'


def _config_dtype(config: object) -> str:
    torch_dtype = str(getattr(getattr(config, 'backbone', None), 'torch_dtype', 'float32'))
    return {'bfloat16': 'bf16', 'float16': 'fp16'}.get(torch_dtype, 'fp32')


def budget_for(config: object, weights: WeightStats, backend: str,
               precision: str = '') -> ModelBudget:
    """The table row of this model, or an estimate computed the same way from its weights.

    `precision` overrides the dtype (a TensorRT engine's 'fp16' / 'int8').
    """
    variant = backbone_variant(config)
    head = str(getattr(getattr(config, 'head', None), 'type', '') or 'mlp')
    dtype = precision or _config_dtype(config)
    if dtype == 'fp32' and weights.dtype in ('bf16', 'fp16'):
        dtype = weights.dtype
    params_m = weights.params / 1e6
    for row in BUDGETS:
        if (row.backbone, row.head, row.dtype, row.backend) == (variant, head, dtype, backend) \
                and abs(row.params_m - params_m) <= MATCH_TOLERANCE * row.params_m:
            return row
    window = int(getattr(config, 'window_size', 16) or 16)
    estimate = _row(f'{variant}-{head}-{dtype}-{backend} (estimated)', variant, head, dtype,
                    backend, params_m, weights.head_params / 1e6, None, None, window,
                    note='not in the table: estimated from the checkpoint weights')
    return replace(estimate, cpu_memory_mb=round(estimate.memory_mb('cpu')))


def checkpoint_budget(path: str, config: object, backend: str,
                      precision: str = '') -> ModelBudget:
    """`budget_for` the checkpoint directory `path` (reads `model.safetensors`' header)."""
    return budget_for(config, safetensors_stats(os.path.join(path, 'model.safetensors')),
                      backend, precision)


# --------------------------------------------------------------------------- the check

@dataclass(frozen=True)
class MemoryVerdict:
    """Whether the model fits: `ok`, and a message that names the figures."""

    ok: bool
    message: str
    need_mb: float
    available_mb: float


def check_memory(budget: ModelBudget, platform: str, available_mb: float,
                 process_rss_mb: float = 0.0, reserve_mb: float = 512.0) -> MemoryVerdict:
    """Does `budget` fit in `available_mb`, keeping `reserve_mb` for the rest of the stack?

    The budget is a whole-process figure; what this process already holds (`process_rss_mb`,
    e.g. the imported runtime) is not needed again.
    """
    total = budget.memory_mb(platform)
    need = max(0.0, total - process_rss_mb)
    ok = available_mb - need >= reserve_mb
    verdict = 'fits' if ok else 'too large for free memory'
    message = (f'{budget.key}: {verdict}: needs ~{need:.0f} MiB more (budget {total:.0f} MiB '
               f'on {platform}), {available_mb:.0f} MiB available, {reserve_mb:.0f} MiB kept '
               f'for the rest of the stack')
    return MemoryVerdict(ok, message, need, available_mb)


def markdown_table() -> str:
    """The budget table as Markdown (docs/jetson.md embeds exactly this)."""
    lines = ['| model | backend | dtype | params (M) | CPU p50 (ms) | CPU RSS (MiB) | '
             'Orin NX latency floor (ms) | Orin NX memory (MiB) |',
             '|---|---|---|---|---|---|---|---|']
    for b in BUDGETS:
        def fmt(v: Optional[float]) -> str:
            return '—' if v is None else f'{v:g}'
        lines.append(f'| `{b.key}` | {b.backend} | {b.dtype} | {b.params_m:g} | '
                     f'{fmt(b.cpu_latency_ms)} | {fmt(b.cpu_memory_mb)} | '
                     f'≥ {b.orin_latency_ms:g} | {b.orin_memory_mb:g} |')
    return '\n'.join(lines)
