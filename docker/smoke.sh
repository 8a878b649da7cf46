#!/usr/bin/env bash
# Smoke test of a built workspace: the last build step of both images, and runnable on any
# checkout after scripts/setup.sh (src/vla_bringup/test/test_docker.py runs it here).
#
#   docker/smoke.sh [WORKSPACE]      (default: the checkout this script belongs to)
#
# 1. The interpreter of the nodes imports torch, transformers, rclpy, every workspace package
#    (vla_*, mobile_base) and the voice stack (faster_whisper, ctranslate2, silero_vad).
# 2. Every node executable is started from install/<pkg>/lib/<pkg>/ (its own shebang, as
#    `ros2 run` and `ros2 launch` start it) with its default parameter file, must appear in
#    the ROS graph (within SMOKE_READY_TIMEOUT s) and still be running 2 s (SMOKE_SECONDS)
#    later with no Python traceback in its output. A node whose
#    hardware cannot exist in a build (mic_capture: no sound card) must instead stop with its
#    own clear error, never an import error. Nodes whose upstream dependency is not part of
#    the image are skipped, saying why (realman_bridge without RealMan's rm_ros_interfaces,
#    mujoco_sim without mujoco: the Jetson image has no simulator).
# Exit status: 0 when every check passed, 1 otherwise (a summary line per node).
set -uo pipefail
WS="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)"
SECONDS_UP="${SMOKE_SECONDS:-2}"
READY_TIMEOUT="${SMOKE_READY_TIMEOUT:-180}"
# shellcheck disable=SC1091
source "$WS/scripts/activate.sh" || { echo "[smoke] cannot activate $WS" >&2; exit 1; }
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 90) + 10 ))}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export ROS_LOCALHOST_ONLY="${ROS_LOCALHOST_ONLY:-1}"
export PYTHONUNBUFFERED=1
PY="$WS/.venv/bin/python"
failed=0
say() { printf '[smoke] %s\n' "$*"; }

say "interpreter $PY"
if ! "$PY" - <<'EOF'
import importlib
import sys

mods = ['torch', 'transformers', 'rclpy', 'numpy', 'yaml', 'serial', 'onnxruntime',
        'faster_whisper', 'ctranslate2', 'silero_vad', 'vla_msgs.msg', 'vla_common',
        'vla_safety', 'vla_policy_node', 'vla_instruction', 'vla_bringup', 'mobile_base',
        'vla_learning']
bad = []
for name in mods:
    try:
        mod = importlib.import_module(name)
        print(f'[smoke] import {name} {getattr(mod, "__version__", "")}'.rstrip())
    except Exception as exc:  # noqa: BLE001 - reported, then the script fails
        bad.append(f'{name}: {type(exc).__name__}: {exc}')
import os

import numpy
if os.environ.get('ROS_DISTRO') == 'humble' and not numpy.__version__.startswith('1.'):
    bad.append(f'numpy {numpy.__version__}: cv_bridge needs numpy < 2')
for line in bad:
    print(f'[smoke] IMPORT FAILED {line}')
sys.exit(1 if bad else 0)
EOF
then
  failed=1
fi

# Node executables: <package> <executable> [ros args...]
NODES=(
  "vla_safety safety_gate"
  "vla_policy_node policy_node"
  "vla_instruction instruction_node"
  "vla_instruction mic_capture"
  "mobile_base base_driver"
  "mobile_base mujoco_sim"
  "vla_bringup realman_bridge"
)
LOGDIR="$(mktemp -d)"
# Waits until node $1 is in the ROS graph or process $2 has exited (then exit 1).
WAIT_NODE='
import os, sys, time, rclpy
name, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rclpy.init()
node = rclpy.create_node("smoke_watcher")
deadline = time.monotonic() + timeout
code = 2
while time.monotonic() < deadline:
    if name in node.get_node_names():
        code = 0
        break
    try:
        os.kill(pid, 0)
    except OSError:
        code = 1
        break
    rclpy.spin_once(node, timeout_sec=0.2)
node.destroy_node()
rclpy.try_shutdown()
sys.exit(code)
'
for entry in "${NODES[@]}"; do
  read -r pkg exe <<<"$entry"
  path="$WS/install/$pkg/lib/$pkg/$exe"
  if [[ ! -x "$path" ]]; then
    say "FAIL $exe: no executable at $path"; failed=1; continue
  fi
  shebang="$(head -n1 "$path")"
  if [[ "$shebang" == "#!"* && "$shebang" != *"$WS/.venv/bin/python"* ]]; then
    say "FAIL $exe: runs ${shebang#\#!}, not the venv's interpreter"; failed=1; continue
  fi
  case "$exe" in
    realman_bridge)
      if ! "$PY" -c 'import rm_ros_interfaces.msg' 2>/dev/null; then
        say "skip $exe: rm_ros_interfaces (RealMan's ros2_rm_robot) is not installed"; continue
      fi ;;
    mujoco_sim)
      if ! "$PY" -c 'import mujoco' 2>/dev/null; then
        say "skip $exe: mujoco is not installed (no simulator in this image)"; continue
      fi ;;
  esac
  args=(--ros-args -r "__node:=$exe")
  params="$WS/install/$pkg/share/$pkg/config/$exe.param.yaml"
  [[ -f "$params" ]] && args+=(--params-file "$params")
  log="$LOGDIR/$exe.log"
  ( exec "$path" "${args[@]}" >"$log" 2>&1 ) &
  pid=$!
  "$PY" -c "$WAIT_NODE" "$exe" "$pid" "$READY_TIMEOUT"
  ready=$?
  if ((ready == 2)); then
    say "FAIL $exe: not in the ROS graph after ${READY_TIMEOUT} s"; failed=1
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; continue
  fi
  ((ready == 0)) && sleep "$SECONDS_UP"
  if kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    code=$?
    if grep -q "Traceback" "$log"; then
      say "FAIL $exe: traceback while running"; sed 's/^/    /' "$log" | tail -n 20; failed=1
    elif ((code != 0)); then
      # Dependencies are fine (it came up); a bad exit on SIGINT is the node's own defect.
      say "ok   $exe: up, still running ${SECONDS_UP} s later (WARN: exit code $code on SIGINT)"
    else
      say "ok   $exe: up, still running ${SECONDS_UP} s later, exit 0 on SIGINT"
    fi
  else
    wait "$pid" 2>/dev/null
    code=$?
    if [[ "$exe" == mic_capture ]] && grep -qE "cannot open input device|PortAudio" "$log" \
        && ! grep -qE "ImportError|ModuleNotFoundError" "$log"; then
      say "ok   $exe: stopped with its no-sound-card error (code $code)"
    else
      say "FAIL $exe: exited with code $code within ${SECONDS_UP} s"
      sed 's/^/    /' "$log" | tail -n 20
      failed=1
    fi
  fi
done
rm -rf "$LOGDIR"
if ((failed)); then say "FAILED"; exit 1; fi
say "passed"
