#!/usr/bin/env bash
# The main job: set up if needed, then run the mobile stack closing the loop in the MuJoCo
# simulator on the shipped default model, from a Korean instruction.
#   scripts/demo.sh [--scenario NAME] [--seed N] [--instruction "..."] [--model DIR] [--out DIR]
# Prints the outcome; writes result.json, trajectory.png and an mcap rosbag2 under runs/.
# The arm (arm_sim, the shipped arm model; result.json, top_view.png, bag/):
#   scripts/demo.sh --robot arm [--task NAME] [--seed N] [--instruction "..."] [--expert]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
# shellcheck disable=SC1091
source "$ROOT/scripts/activate.sh"
cd "$ROOT"
exec "$ROOT/install/vla_bringup/lib/vla_bringup/demo" "$@"
