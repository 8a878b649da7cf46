"""Arm latency: camera image -> gated arm command, through the arm stack's own nodes.

The arm stack's policy_node (the shipped arm model unless --model) and safety_gate (arm mode,
the stack's parameters) run as processes on wall time; this harness plays the arm_sim scene
camera (224x224 rgb8 frames of a real episode, alternating scenes so that every frame is an
event trigger) at --rate Hz with joint_states at 100 Hz and one understood instruction, and
times (p50 / p99), per chunk computed from one of its frames (the chunk carries the frame's
stamp), the publish of that image -> the first command on `arm_cmd_in` at or after the chunk
(an event chunk's first due row goes out on arrival) -> the first gated command on `arm_cmd`
after that (`publish_on_input`). Also printed: the model time the node reports and the load
average (the figures are only as good as the machine is quiet), and the played frames' scene
distance next to the policy's `scene_threshold`: tabletop scenes differ little (small objects
on the same table, 0.02-0.04 of grey difference against the default threshold of 0.08), so at
the default the frames are NOT scene changes and the chunks are queue-low refills, computed
from whichever frame is newest (refill latency). `--scene-threshold` below the frames'
distance measures the reaction to a detected scene change.

    python src/vla_bringup/benchmarks/bench_arm.py [--seconds 60] [--model DIR] [--json out]
        [--scene-threshold 0.015]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Dict, List


def frames(n: int = 2) -> List:
    """`n` scene-camera frames of different scenes (the trigger sees each as a new scene)."""
    from arm_sim.core.scene import make_scene
    from arm_sim.sim.world import ArmSimOptions, ArmWorld

    world = ArmWorld(ArmSimOptions(image_width=224, image_height=224))
    out = []
    for i, task in enumerate(('blue_block_tray', 'green_cup_left_plate', 'red_cup_left')[:n]):
        world.reset(make_scene(task, i))
        out.append((world.render(), world.reported_joint_positions()))
    world.close()
    return out


def pct(values: List[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float('nan')


def main(argv=None) -> int:
    import numpy as np
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image, JointState
    from vla_bringup.runner import StackRunner
    from vla_bringup.spinner import BackgroundSpinner
    from vla_bringup.stacks import arm_stack, StackSpec
    from vla_common.image import fill_image
    from vla_common.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
    from vla_msgs.msg import ActionChunk, ArmCommand, Instruction, PolicyStatus
    from vla_policy_node.execution.triggers import (scene_distance, scene_thumbnail,
                                                    TriggerConfig)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0)
    parser.add_argument('--rate', type=float, default=10.0, help='camera frames per second')
    parser.add_argument('--model', default='', help='policy checkpoint (default: shipped)')
    parser.add_argument('--json', default='')
    parser.add_argument('--scene-threshold', type=float, default=None,
                        help="the policy's scene_threshold (default: the stack's)")
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_DOMAIN_ID', str(60 + os.getpid() % 40))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

    full = arm_stack(sim='mujoco', model=args.model, voice='false', use_sim_time='false')
    extra = {} if args.scene_threshold is None else {'scene_threshold': args.scene_threshold}
    nodes = tuple(n.with_parameters(trigger_mode='event', **extra) if n.name == 'policy_node'
                  else n for n in full.nodes if n.name in ('policy_node', 'safety_gate'))
    policy_params = dict(nodes[[n.name for n in nodes].index('policy_node')].parameters)
    model = policy_params.get('model_path', '')
    threshold = policy_params.get('scene_threshold', TriggerConfig().scene_threshold)
    runner = StackRunner(StackSpec('bench_arm', nodes), log=lambda n, line: None)
    pictures = frames()
    thumbs = [scene_thumbnail(np.asarray(rgb)) for rgb, _ in pictures]
    distance = min(scene_distance(a, b) for i, a in enumerate(thumbs) for b in thumbs[i + 1:])
    spinner = BackgroundSpinner('bench-arm', period=0.005)
    node = spinner.create_node('bench_arm')
    lock = threading.Lock()
    published: Dict[int, float] = {}           # image stamp (ns) -> publish time
    chunks: Dict[int, float] = {}              # image stamp -> receipt of its first chunk
    cmd_in: List = []                          # (receipt time, ee_delta)
    cmd_out: List = []
    status: List = []

    def on_chunk(msg: ActionChunk) -> None:
        with lock:
            chunks.setdefault(msg.header.stamp.sec * 10 ** 9 + msg.header.stamp.nanosec,
                              time.monotonic())

    def on_cmd(store, msg: ArmCommand) -> None:
        if msg.mode == ArmCommand.MODE_END_EFFECTOR_DELTA:
            with lock:
                store.append((time.monotonic(), np.asarray(msg.ee_delta)))

    node.create_subscription(ActionChunk, 'policy_node/action_chunk', on_chunk, 50)
    node.create_subscription(ArmCommand, 'arm_cmd_in', lambda m: on_cmd(cmd_in, m), COMMAND_QOS)
    node.create_subscription(ArmCommand, 'arm_cmd', lambda m: on_cmd(cmd_out, m), COMMAND_QOS)
    node.create_subscription(PolicyStatus, 'policy_node/status',
                             lambda m: status.append(m), QoSProfile(
                                 depth=10, reliability=ReliabilityPolicy.RELIABLE))
    pub_img = node.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
    pub_js = node.create_publisher(JointState, 'joint_states', SENSOR_QOS)
    pub_ins = node.create_publisher(Instruction, 'instruction', LATCHED_QOS)
    spinner.start()
    runner.start()
    stop = threading.Event()
    q_home = pictures[0][1]

    def joint_loop() -> None:
        while not stop.is_set():
            js = JointState()
            js.header.stamp = node.get_clock().now().to_msg()
            js.name = [f'joint{i + 1}' for i in range(len(q_home))]
            js.position = [float(v) for v in q_home]
            pub_js.publish(js)
            time.sleep(0.01)

    threading.Thread(target=joint_loop, daemon=True).start()
    try:
        deadline = time.monotonic() + 180.0
        ready = (PolicyStatus.STATE_IDLE, PolicyStatus.STATE_RUNNING)
        while not (status and status[-1].state in ready):
            if runner.check() or time.monotonic() > deadline:
                raise SystemExit(f'stack not ready: {runner.check()}')
            time.sleep(0.1)
        from vla_instruction.core.normalizer import normalize, TABLETOP_OBJECTS

        text = '파란 블록을 집어서 쟁반에 넣으세요'
        reading = normalize(text, TABLETOP_OBJECTS)
        ins = Instruction(id='bench-1', text=text, language='ko', canonical=reading.canonical,
                          task=reading.scenario, status=Instruction.STATUS_UNDERSTOOD,
                          confidence=1.0)
        ins.header.stamp = node.get_clock().now().to_msg()
        pub_ins.publish(ins)
        t_end = time.monotonic() + args.seconds
        k = 0
        while time.monotonic() < t_end:
            rgb = pictures[k % len(pictures)][0]
            msg = fill_image(Image(), rgb, 'rgb8')
            now = node.get_clock().now()
            msg.header.stamp = now.to_msg()
            with lock:
                published[now.nanoseconds] = time.monotonic()
            pub_img.publish(msg)
            k += 1
            time.sleep(max(0.0, 1.0 / args.rate))
        time.sleep(1.0)
    finally:
        stop.set()
        runner.stop()
        spinner.close()

    # The policy publishes a chunk and its first command together, so the command may arrive
    # here just before the chunk: accept commands from 5 ms before the chunk's receipt.
    ins = sorted(t for t, _ in cmd_in)
    outs = sorted(t for t, _ in cmd_out)
    to_in, to_out = [], []
    for stamp, t_chunk in chunks.items():
        t_pub = published.get(stamp)
        if t_pub is None:
            continue
        t_in = next((t for t in ins if t >= max(t_pub, t_chunk - 0.005)), None)
        if t_in is None:
            continue
        to_in.append((t_in - t_pub) * 1000.0)
        t_out = next((t for t in outs if t >= t_in), None)
        if t_out is not None:
            to_out.append((t_out - t_pub) * 1000.0)
    model_ms = [float(s.latency_p50_ms) for s in status if s.latency_p50_ms > 0]
    load = os.getloadavg()
    result = {'frames': len(published), 'chunks': len(chunks), 'matched_out': len(to_out),
              'image_to_arm_cmd_in_ms': {'p50': pct(to_in, 50), 'p99': pct(to_in, 99)},
              'image_to_gated_arm_cmd_ms': {'p50': pct(to_out, 50), 'p99': pct(to_out, 99),
                                            'max': max(to_out) if to_out else float('nan')},
              'node_reported_latency_p50_ms': model_ms[-1] if model_ms else float('nan'),
              'frames_scene_distance': round(distance, 4), 'scene_threshold': threshold,
              'frames_are_scene_changes': bool(distance > threshold),
              'model': model, 'load_average': [round(v, 2) for v in load]}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
