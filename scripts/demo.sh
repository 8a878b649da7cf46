#!/usr/bin/env bash
# The main job: the mobile stack closing the loop in the MuJoCo simulator on the default model.
# (Filled in by the bringup issue; until then it sets up and says what it will run.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
echo "[demo] will run: run_stack mobile sim:=mujoco with the default model, send a Korean"
echo "[demo] instruction for a navigation scenario, and report the episode outcome."
