#!/usr/bin/env python3
"""Spoken Korean commands end to end (espeak-ng -> Whisper -> normaliser): CER and decisions.

    source scripts/activate.sh
    python src/vla_instruction/benchmarks/asr_accuracy.py                  # shipped settings
    python src/vla_instruction/benchmarks/asr_accuracy.py --sweep          # voices x rates
    python src/vla_instruction/benchmarks/asr_accuracy.py --prompt "박스, 컵, 왼쪽, 오른쪽"

For every sentence of vla_instruction.speech.evaluation.SENTENCES: the transcript, its
character error rate (letters only; edits / reference letters), the ASR confidence and
compression ratio, and what instruction_node would publish (the normaliser, then
`min_confidence`), judged: correct (the sentence's own task or stop), refused (no motion) or
wrong (another task). Then the corpus CER and the counts. espeak-ng's Korean is robotic: the
CER measures this synthetic voice with Whisper-base, not real speakers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--voice', default=None, help='espeak-ng voice (default: the test\'s)')
    parser.add_argument('--rate', type=int, default=None, help='espeak-ng words per minute')
    parser.add_argument('--sweep', action='store_true',
                        help='voices ko, ko+f2, ko+m3 at 110, 130, 160 wpm (slow)')
    parser.add_argument('--prompt', default='', help='Whisper initial prompt')
    parser.add_argument('--beam', type=int, default=1)
    parser.add_argument('--model', default='pkg:whisper-base')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    from vla_instruction.speech import evaluation
    from vla_instruction.speech.asr import AsrSettings, WhisperRecognizer

    recognizer = WhisperRecognizer(AsrSettings(model_path=args.model, beam_size=args.beam,
                                               initial_prompt=args.prompt))
    configs = ([(v, r) for v in ('ko', 'ko+f2', 'ko+m3') for r in (110, 130, 160)]
               if args.sweep else
               [(args.voice or evaluation.VOICE, args.rate or evaluation.RATE_WPM)])
    figures = []
    for voice, rate in configs:
        results = evaluation.evaluate(recognizer.transcribe, voice=voice, rate_wpm=rate)
        counts = Counter(r.verdict for r in results)
        cer = evaluation.mean_cer(results)
        print(f'== espeak-ng {voice} {rate} wpm, {os.path.basename(recognizer.model_dir)} '
              f'beam {args.beam}, prompt {args.prompt!r}: CER {cer:.2f}; '
              f'correct {counts["correct"]}, refused {counts["refused"]}, '
              f'wrong {counts["wrong"]} of {len(results)}')
        for r in results:
            d = r.decided
            said = d.canonical if d.understood else f'{d.status.value}/{d.category}'
            print(f'  {r.verdict:7s} CER {r.cer:4.2f} conf {r.asr_confidence:.2f} '
                  f'ratio {r.compression_ratio:.1f}  {r.reference} -> {r.transcript!r} '
                  f'[{said}]')
        figures.append({'voice': voice, 'rate_wpm': rate, 'cer': cer, 'counts': counts,
                        'results': [(r.reference, r.transcript, r.cer, r.verdict)
                                    for r in results]})
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(figures, f, ensure_ascii=False, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
