"""Static checks every package runs as tests: flake8 (99 columns) and pure-core import rules."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
from typing import Iterable, List, Sequence

FLAKE8_ARGS = ['--max-line-length=99', '--extend-ignore=W503,W504,E203']


def flake8(paths: Sequence[pathlib.Path]) -> List[str]:
    """Run flake8 on `paths`; return the reported problems (empty when clean)."""
    result = subprocess.run([sys.executable, '-m', 'flake8', *FLAKE8_ARGS, *map(str, paths)],
                            capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(f'flake8 failed to run: {result.stderr}')
    return [line for line in result.stdout.splitlines() if line.strip()]


def imported_modules(path: pathlib.Path) -> List[str]:
    """Top-level module names imported anywhere in a Python file."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    names: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module.split('.')[0])
    return names


def forbidden_imports(paths: Iterable[pathlib.Path],
                      forbidden: Sequence[str] = ('rclpy',)) -> List[str]:
    """`file: module` for each import of a forbidden top-level module (msg packages included)."""
    problems = []
    for path in paths:
        for name in imported_modules(path):
            if name in forbidden or name.endswith('_msgs') or name == 'std_srvs':
                problems.append(f'{path}: imports {name}')
    return problems
