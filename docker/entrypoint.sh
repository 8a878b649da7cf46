#!/usr/bin/env bash
# Container entry point: ROS 2 Humble + the workspace overlay, then the given command.
set -e
# shellcheck disable=SC1091
source /opt/ros/humble/setup.bash
# shellcheck disable=SC1091
source "${VLA_WS:-/ws}/.venv/bin/activate"
# shellcheck disable=SC1091
source "${VLA_WS:-/ws}/install/setup.bash"
# The stack's Fast DDS profile (shared-memory transport with a 16 MB segment, plus UDPv4; fast
# reliable repair) in Humble's Fast DDS 2 names: whole camera frames between containers that
# share /dev/shm (compose: ipc: host).
if [[ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ]]; then
  export FASTDDS_DEFAULT_PROFILES_FILE
  FASTDDS_DEFAULT_PROFILES_FILE="$(ros2 pkg prefix vla_bringup)/share/vla_bringup/config/fastdds2_shm.xml"
fi
exec "$@"
