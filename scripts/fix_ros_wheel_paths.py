#!/usr/bin/env python3
"""Rewrite build-machine paths hard-coded in the ROS 2 wheels' CMake export files.

The ros-kilted-* wheels were built in a manylinux container whose Python lived in
/opt/python/cp311-cp311; their exported CMake targets name that interpreter's include
directory and numpy's include directory. CMake refuses targets that name non-existent
include paths, so custom interfaces cannot be built until the paths point at this
interpreter. Idempotent: files already rewritten are left alone.
"""

import pathlib
import sys
import sysconfig

import numpy

BUILD_PREFIX = '/opt/python/cp311-cp311'


def main() -> int:
    prefix = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)
    build_site = f'{BUILD_PREFIX}/lib/python3.11/site-packages/numpy/_core/include'
    replacements = [
        (build_site, numpy.get_include()),
        (f'{BUILD_PREFIX}/include/python3.11', sysconfig.get_paths()['include']),
    ]
    changed = 0
    for path in sorted((prefix / 'share').rglob('*.cmake')):
        text = path.read_text(encoding='utf-8', errors='surrogateescape')
        if BUILD_PREFIX not in text:
            continue
        for old, new in replacements:
            text = text.replace(old, new)
        path.write_text(text, encoding='utf-8', errors='surrogateescape')
        changed += 1
    print(f'[setup] rewrote build-machine paths in {changed} CMake file(s) under {prefix}/share')
    return 0


if __name__ == '__main__':
    sys.exit(main())
