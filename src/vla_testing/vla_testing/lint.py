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


LOG_METHODS = frozenset({'debug', 'info', 'warn', 'warning', 'error', 'fatal'})


def _is_log_method(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in LOG_METHODS


def dynamic_log_severity(paths: Iterable[pathlib.Path]) -> List[str]:
    """`file:line` for each place that picks a logger method at run time.

    rclpy remembers the severity of every logging call site (for `once`, `throttle_duration_sec`
    and `skip_first`) and raises `ValueError('Logger severity cannot be changed between calls.')`
    when one site logs at a second severity. `(log.info if ok else log.warn)(...)` or a dict of
    logger methods is such a site: it crashes the callback the second time the branch flips.
    Write one call per severity instead.
    """
    problems = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
        for node in ast.walk(tree):
            picks = False
            if isinstance(node, ast.IfExp):
                picks = _is_log_method(node.body) or _is_log_method(node.orelse)
            elif isinstance(node, ast.Dict):
                picks = sum(_is_log_method(v) for v in node.values) >= 1
            # getattr(logger, level) is the same pattern spelled differently
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == 'getattr' and len(node.args) >= 2 \
                    and not isinstance(node.args[1], ast.Constant) \
                    and 'log' in ast.unparse(node.args[0]).lower():
                picks = True
            if picks:
                problems.append(f'{path}:{node.lineno}: logger method chosen at run time')
    return problems
