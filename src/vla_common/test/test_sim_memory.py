"""The simulators' malloc setting (`vla_common.sim_node.map_large_allocations`): a large block
freed and another allocated later are both mapped on their own, so freeing them returns the
memory, where glibc's default would serve the second from the heap (its dynamic threshold
rose when the first was freed). Judged from glibc's own chunk header (IS_MMAPPED), in a fresh
process per case so that nothing else has moved the threshold."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = '''
import ctypes, sys
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
SIZE_T = ctypes.sizeof(ctypes.c_size_t)


def mapped(size):
    block = libc.malloc(size)
    flags = ctypes.c_size_t.from_address(block - SIZE_T).value   # the chunk's size field
    libc.free(block)
    return bool(flags & 2)                                        # IS_MMAPPED


if sys.argv[1] == 'fixed':
    from vla_common.sim_node import map_large_allocations
    assert map_large_allocations()
# an episode's render context freed, then the next (smaller) model's buffers
print(mapped(12 << 20), mapped(4 << 20), mapped(2 << 20))
'''


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='glibc malloc only')
@pytest.mark.parametrize('mode,expected', [('default', 'True False False'),
                                           ('fixed', 'True True True')])
def test_large_blocks_stay_mapped_after_one_is_freed(mode, expected):
    run = subprocess.run([sys.executable, '-c', PROBE, mode], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split('\n')[-2] == expected
