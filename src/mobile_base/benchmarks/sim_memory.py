#!/usr/bin/env python3
"""Memory of the `mujoco_sim` node over many episodes: prints figures, asserts nothing.

The node alone (its own process over DDS, the shipped transport profile), driven the way the
stack drives it but faster: `~/start_episode` over the 8 scenarios in turn with new seeds,
an instruction per episode, `cmd_vel` at `--cmd-rate` from a node the simulator accepts as
its gate, the camera, scan and odometry subscribed. After every episode it samples the
node's /proc/<pid>/status (VmRSS and its parts: RssAnon = heap and other private memory,
RssFile = mapped libraries, RssShmem = the DDS shared-memory segments) and prints them; at
the end the RssAnon range after `--warmup` episodes. The 30 min soak of the whole stack
(vla_bringup/benchmarks/soak.py) is the figure of record; this is the short reproduction of
its simulator memory (docs/reliability.md).

    python src/mobile_base/benchmarks/sim_memory.py [--episodes 100] [--seconds 3]
        [--realtime-factor 2] [--env NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List

SCENARIOS = ('1box_vert_left', '1box_vert_right', '1box_hori_left', '1box_hori_right',
             '2box_vert_left', '2box_vert_right', '2box_hori_left', '2box_hori_right')
FIELDS = ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem')


def memory_mib(pid: int) -> Dict[str, float]:
    out: Dict[str, float] = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            key = line.split(':', 1)[0]
            if key in FIELDS:
                out[key] = int(line.split()[1]) / 1024.0
    return out


def main(argv=None) -> int:
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Image, LaserScan
    from vla_bringup.runner import executable_path, transport_profile
    from vla_common.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
    from vla_msgs.msg import Instruction
    from vla_msgs.srv import StartEpisode

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--episodes', type=int, default=100)
    parser.add_argument('--seconds', type=float, default=3.0, help='wall s per episode')
    parser.add_argument('--realtime-factor', type=float, default=2.0)
    parser.add_argument('--cmd-rate', type=float, default=50.0, help='cmd_vel Hz')
    parser.add_argument('--warmup', type=int, default=10, help='episodes')
    parser.add_argument('--env', action='append', default=[],
                        help='NAME=VALUE for the node (e.g. MALLOC_ARENA_MAX=2)')
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_DOMAIN_ID', str(20 + os.getpid() % 40))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env = dict(os.environ)
    if transport_profile():
        env.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', transport_profile())
    env.update(kv.split('=', 1) for kv in args.env)
    driver_name = 'sim_memory_driver'
    proc = subprocess.Popen(
        [executable_path('mobile_base', 'mujoco_sim'), '--ros-args',
         '-p', f'realtime_factor:={args.realtime_factor}', '-p', 'use_sim_time:=true',
         '-p', f'cmd_vel_publisher:=/{driver_name}', '--log-level', 'warn'], env=env)
    rclpy.init()
    node = rclpy.create_node(driver_name)
    frames = [0]

    def on_image(_msg: Image) -> None:
        frames[0] += 1
    node.create_subscription(Image, 'camera/image_raw', on_image, SENSOR_QOS)
    node.create_subscription(LaserScan, 'scan', lambda _m: None, SENSOR_QOS)
    node.create_subscription(Odometry, 'odom', lambda _m: None, SENSOR_QOS)
    cmd = node.create_publisher(Twist, 'cmd_vel', COMMAND_QOS)
    instruction = node.create_publisher(Instruction, 'instruction', LATCHED_QOS)
    client = node.create_client(StartEpisode, '/mujoco_sim/start_episode')
    forward = Twist()
    forward.linear.x, forward.angular.z = 0.2, 0.1
    node.create_timer(1.0 / args.cmd_rate, lambda: cmd.publish(forward))
    executor = MultiThreadedExecutor(2)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    anon: List[float] = []
    try:
        if not client.wait_for_service(timeout_sec=120.0):
            print('mujoco_sim did not come up', file=sys.stderr)
            return 1
        t0 = time.monotonic()
        for k in range(args.episodes):
            request = StartEpisode.Request(scenario=SCENARIOS[k % len(SCENARIOS)], seed=1000 + k)
            future = client.call_async(request)
            while not future.done():
                time.sleep(0.02)
            msg = Instruction(id=f'mem-{k}', text='x', status=Instruction.STATUS_UNDERSTOOD)
            msg.header.stamp = node.get_clock().now().to_msg()
            instruction.publish(msg)
            time.sleep(args.seconds)
            mem = memory_mib(proc.pid)
            if k >= args.warmup:
                anon.append(mem['RssAnon'])
            print(f'{k:4d} {time.monotonic() - t0:6.0f} s {frames[0]:6d} frames  '
                  + '  '.join(f'{key} {mem[key]:6.1f}' for key in FIELDS), flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        executor.shutdown()
        rclpy.try_shutdown()
    if anon:
        print(f'\nRssAnon after {args.warmup} episodes: min {min(anon):.1f}, max {max(anon):.1f}, '
              f'last {anon[-1]:.1f} MiB (first {anon[0]:.1f}); load average '
              f'{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores')
    return 0


if __name__ == '__main__':
    sys.exit(main())
