# Source this file (bash): `source scripts/activate.sh`
# Activates .venv/, the ROS 2 installation (system Humble or the Kilted wheels) and install/.
# colcon's and ROS's setup scripts read unset variables: relax `set -u` while sourcing them.
_vla_nounset=0; [[ $- == *u* ]] && _vla_nounset=1; set +u
_vla_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${ROS_DISTRO:-}" && -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]]; then
  # shellcheck disable=SC1090
  source "/opt/ros/${ROS_DISTRO}/setup.bash"
fi
if [[ ! -f "$_vla_root/.venv/bin/activate" ]]; then
  echo "[activate] no .venv yet: run scripts/setup.sh first" >&2
  ((_vla_nounset)) && set -u
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_vla_root/.venv/bin/activate"
if [[ -z "${ROS_DISTRO:-}" || ! -d "/opt/ros/${ROS_DISTRO}" ]]; then
  # ROS 2 Kilted from wheels: the venv is the underlay prefix.
  export AMENT_PREFIX_PATH="$_vla_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$_vla_root/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
fi
if [[ -f "$_vla_root/install/setup.bash" ]]; then
  # shellcheck disable=SC1091
  source "$_vla_root/install/setup.bash"
fi
# The packages' executables (vla_collect, vla_train, init_policy, make_golden_bags, ...) by
# name, as `ros2 run <pkg> <exe>` would find them (ros2cli is not installed from wheels).
for _vla_pkg in "$_vla_root"/install/*/; do
  _vla_bin="${_vla_pkg}lib/$(basename "$_vla_pkg")/"
  [[ -d "$_vla_bin" ]] || continue
  case ":$PATH:" in *":${_vla_bin%/}:"*) ;; *) PATH="${_vla_bin%/}:$PATH" ;; esac
done
unset _vla_bin _vla_pkg
export PATH
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# MuJoCo renders offscreen (no display): EGL with Mesa, osmesa as the fallback.
export MUJOCO_GL="${MUJOCO_GL:-egl}"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-$MUJOCO_GL}"
export VLA_WS="$_vla_root"
unset _vla_root
((_vla_nounset)) && set -u
unset _vla_nounset
