#!/usr/bin/env python3
"""Benchmarks of the policy library and node (run by hand; prints figures, asserts nothing).

  python src/vla_policy_node/benchmarks/bench_policy.py models [--full-kosmos2]
  python src/vla_policy_node/benchmarks/bench_policy.py node [--seconds 20]
  python src/vla_policy_node/benchmarks/bench_policy.py triggers [--seconds 30]
  python src/vla_policy_node/benchmarks/bench_policy.py reaction [--seconds 30]
  python src/vla_policy_node/benchmarks/bench_policy.py train
  python src/vla_policy_node/benchmarks/bench_policy.py all [--full-kosmos2]

models   per backbone/head: one inference step (backbone on a 640x480 frame resized to the
         backbone size) + the head over a full history window; p50/p95 and RSS, each model in
         a fresh process. --full-kosmos2 adds the released Kosmos-2 dimensions with random
         weights in fp32 and bf16 (minutes, ~7 GB).
node     a real policy_node process fed 640x480 rgb8 at 30 Hz; every frame is made a scene
         change so each one is inferred: image publish -> ActionChunk receipt, minus the
         model time the node reports for that inference.
triggers the same synthetic drive replayed into the node in event and in periodic (10 Hz)
         mode: inferences per minute and their triggers.
reaction how soon the robot acts on what it sees: a real policy_node fed 640x480 rgb8 at
         30 Hz, once with event triggers and once with `trigger_mode: periodic` at the chunk
         rate (control_rate / chunk = 1 Hz): 12 instructions on a static scene (instruction
         publish -> first command from its chunk), then a new scene every 0.5-0.9 s (random
         phase; image publish -> the first cmd_vel_in taken from a chunk computed on that
         frame or a later one), next to the model time and the transport floor (a relay
         process: one image hop + one Twist hop); commands per second while driving.
         Commands are identified by value: an event chunk replaces the queue (its rows go
         out unchanged), and the periodic run uses `chunk_blend: none` so its rows do too;
         blending changes the value of that first command, not its time.
train    nano training cost per frame at 64/96/128/224 px (forward + backward + step).

Machine notes: this is a shared 2-core CPU; numbers move by 10-30 % between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

import numpy as np

HERE = pathlib.Path(__file__).resolve()
LEFT = '박스를 왼쪽으로 돌아서 컵까지 가세요'

SHM_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>shm_large</transport_id>
      <type>SHM</type>
      <segment_size>16777216</segment_size>
    </transport_descriptor>
    <transport_descriptor>
      <transport_id>udp</transport_id>
      <type>UDPv4</type>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="participant_profile" is_default_profile="true">
    <rtps>
      <userTransports>
        <transport_id>shm_large</transport_id>
        <transport_id>udp</transport_id>
      </userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"""

SEED_HEADS = {
    'mlp': {'type': 'mlp'},
    'lstm': {'type': 'lstm'},
    'gpt': {'type': 'gpt'},
    'discrete': {'type': 'discrete'},
}


def rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float('nan')


# ================================================================================ models

def model_specs(full_kosmos: bool) -> List[Dict[str, Any]]:
    specs: List[Dict[str, Any]] = []
    for head in SEED_HEADS:
        specs.append({'label': f'nano 64px + {head} (seed sizes)', 'backbone': {'type': 'nano'},
                      'head': SEED_HEADS[head], 'space': 'base', 'repeats': 30})
    specs.append({'label': 'nano 64px + lstm 256x2', 'backbone': {'type': 'nano'},
                  'head': {'type': 'lstm', 'hidden_size': 256, 'num_layers': 2},
                  'space': 'base', 'repeats': 30})
    specs.append({'label': 'nano 64px + lstm 256x2 (ONNX Runtime)', 'backbone': {'type': 'nano'},
                  'head': {'type': 'lstm', 'hidden_size': 256, 'num_layers': 2},
                  'space': 'base', 'repeats': 30, 'onnx': True})
    specs.append({'label': 'nano 96px + lstm 256x2',
                  'backbone': {'type': 'nano', 'image_size': 96},
                  'head': {'type': 'lstm', 'hidden_size': 256, 'num_layers': 2},
                  'space': 'base', 'repeats': 30})
    for head in ('mlp', 'lstm', 'gpt'):
        specs.append({'label': f'tiny Kosmos-2 + {head} (seed sizes)', 'kosmos': 'tiny',
                      'head': SEED_HEADS[head], 'space': 'arm', 'repeats': 20})
    specs.append({'label': 'tiny Kosmos-2 + lstm (ONNX Runtime)', 'kosmos': 'tiny',
                  'head': SEED_HEADS['lstm'], 'space': 'arm', 'repeats': 20, 'onnx': True})
    if full_kosmos:
        for dtype in ('float32', 'bfloat16'):
            specs.append({'label': f'FULL Kosmos-2 ({dtype}) + lstm (seed sizes)',
                          'kosmos': 'full', 'dtype': dtype, 'head': SEED_HEADS['lstm'],
                          'space': 'arm', 'repeats': 4})
    return specs


def run_model_worker(spec: Dict[str, Any], threads: int) -> Dict[str, Any]:
    """Build the policy described by `spec` in this (fresh) process and time it."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    from vla_policy_node.policies import (export_onnx, KOSMOS2_FULL_CONFIG, load_policy,
                                          make_policy, Observation, tiny_kosmos2_config)

    out: Dict[str, Any] = {'label': spec['label']}
    rss0 = rss_mb()
    t0 = time.monotonic()
    if 'kosmos' in spec:
        from vla_policy_node.policies.backbones.kosmos2 import (build_offline_tokenizer,
                                                                processor_vocab_size)

        tok_dir = tempfile.mkdtemp(prefix='bench-tok-')
        corpus = [LEFT, 'go to the cup passing the box on the left',
                  '박스를 오른쪽으로 돌아서 컵까지 가세요', 'pick up the red block'] * 8
        build_offline_tokenizer(tok_dir, corpus, 400)
        if spec['kosmos'] == 'tiny':
            model_config = tiny_kosmos2_config(processor_vocab_size(tok_dir))
        else:
            model_config = KOSMOS2_FULL_CONFIG
        backbone = {'type': 'kosmos2', 'model_config': model_config, 'tokenizer_path': tok_dir,
                    'torch_dtype': spec.get('dtype', 'float32')}
    else:
        backbone = spec['backbone']
    policy = make_policy(spec['space'], backbone, spec['head'])
    out['build_s'] = time.monotonic() - t0
    out['params_m'] = policy.num_parameters() / 1e6
    if spec.get('onnx'):
        ckpt = tempfile.mkdtemp(prefix='bench-onnx-')
        policy.save_pretrained(ckpt)
        policy.source = ckpt
        export_onnx(policy)
        del policy
        import gc

        gc.collect()
        policy = load_policy(ckpt, 'onnx', num_threads=threads)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(4)]
    for i in range(policy.window_size):   # a full history window, as in steady operation
        policy.observe(Observation(frames[i % 4], LEFT))
    step, head, total = [], [], []
    for i in range(spec['repeats'] + 1):
        obs = Observation(frames[i % 4], LEFT)
        t = time.monotonic()
        images, text, state = policy.preprocess(obs)
        emb = policy._encode_step(images, text, state)
        t1 = time.monotonic()
        policy._history.append(emb)
        policy._predict_normalized(list(policy._history))
        t2 = time.monotonic()
        if i == 0:
            continue   # warm-up
        step.append((t1 - t) * 1e3)
        head.append((t2 - t1) * 1e3)
        total.append((t2 - t) * 1e3)
    out.update(step_p50=pct(step, 50), head_p50=pct(head, 50), total_p50=pct(total, 50),
               total_p95=pct(total, 95), rss_mb=rss_mb(), model_rss_mb=rss_mb() - rss0,
               peak_rss_mb=peak_rss_mb(), window=policy.window_size, threads=threads)
    return out


def bench_models(full_kosmos: bool, threads: int) -> List[Dict[str, Any]]:
    results = []
    for spec in model_specs(full_kosmos):
        print(f'  {spec["label"]} ...', flush=True)
        proc = subprocess.run([sys.executable, str(HERE), '--worker', json.dumps(spec),
                               '--threads', str(threads)], capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode != 0 or not lines:
            print(f'    failed: {proc.stderr[-2000:]}')
            continue
        results.append(json.loads(lines[-1][7:]))
    print('\n| model | params (M) | backbone step p50 (ms) | head over window p50 (ms) | '
          'inference p50 / p95 (ms) | RSS (MiB) | build (s) |')
    print('|---|---|---|---|---|---|---|')
    for r in results:
        print(f'| {r["label"]} | {r["params_m"]:.2f} | {r["step_p50"]:.1f} | '
              f'{r["head_p50"]:.1f} | {r["total_p50"]:.1f} / {r["total_p95"]:.1f} | '
              f'{r["rss_mb"]:.0f} (peak {r["peak_rss_mb"]:.0f}) | {r["build_s"]:.1f} |')
    return results


# ================================================================================= train

def bench_train(threads: int) -> None:
    import torch

    from vla_policy_node.policies import make_policy

    torch.set_num_threads(threads)
    print('\n| nano image size | train ms / frame (B=8, T=8, lstm 256x2) | infer step ms |')
    print('|---|---|---|')
    for size in (64, 96, 128, 224):
        policy = make_policy('base', {'type': 'nano', 'image_size': size},
                             {'type': 'lstm', 'hidden_size': 256, 'num_layers': 2},
                             window_size=8, chunk_size=10)
        b, t = 8, 8
        rng = np.random.default_rng(0)
        batch = {'images': rng.integers(0, 256, (b, t, size, size, 3), dtype=np.uint8),
                 'instruction': [LEFT] * b,
                 'actions': rng.uniform(-0.3, 0.3, (b, t, 10, 3)).astype(np.float32)}
        opt = torch.optim.AdamW(policy.parameters(), 1e-3)
        policy.model.train()
        times = []
        for i in range(5):
            t0 = time.monotonic()
            loss = policy.compute_loss(batch)['loss']
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:
                times.append(time.monotonic() - t0)
        policy.model.eval()
        from vla_policy_node.policies import Observation

        obs = Observation(batch['images'][0, 0], LEFT)
        inf = []
        for i in range(10):
            t0 = time.monotonic()
            policy.observe(obs)
            inf.append(time.monotonic() - t0)
        print(f'| {size} | {np.median(times) / (b * t) * 1e3:.2f} | '
              f'{np.median(inf[1:]) * 1e3:.2f} |')


# ================================================================================== node

class _Graph:
    """An rclpy context in this process with the test helpers (real DDS to the node)."""

    def __init__(self) -> None:
        from vla_testing.ros import isolate_ros_environment, RosTestContext

        isolate_ros_environment(90 + os.getpid() % 10)
        self.ctx = RosTestContext()
        self.node = self.ctx.create_node('policy_bench')

    def close(self) -> None:
        self.ctx.destroy()


def _checkpoint(directory: str) -> str:
    import torch

    from vla_policy_node.policies import make_policy

    torch.manual_seed(0)
    policy = make_policy('base', {'type': 'nano'}, {'type': 'lstm', 'hidden_size': 256,
                                                    'num_layers': 2})
    policy.save_pretrained(directory)
    return directory


def _start_node(ckpt: str, log_path: str, **params: Any) -> subprocess.Popen:
    from ament_index_python.packages import get_package_prefix

    exe = pathlib.Path(get_package_prefix('vla_policy_node')) / 'lib' / 'vla_policy_node' / \
        'policy_node'
    args = [str(exe), '--ros-args', '-p', f'model_path:={ckpt}']
    for k, v in params.items():
        args += ['-p', f'{k}:={v}']
    return subprocess.Popen(args, stdout=open(log_path, 'wb'), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_idle(graph: _Graph, status: Any, timeout: float = 120.0) -> None:
    from vla_msgs.msg import PolicyStatus
    from vla_testing.ros import wait_for

    wait_for(lambda: status.last is not None and status.last.state in (
        PolicyStatus.STATE_IDLE, PolicyStatus.STATE_RUNNING), timeout, what='policy node idle')


def _large_frame_transport(tmp: str) -> str:
    """Best-effort 640x480 frames need a shared-memory segment larger than Fast DDS' default:
    with the builtin transports most of them are lost on this machine. Returns its name."""
    if 'FASTDDS_DEFAULT_PROFILES_FILE' not in os.environ and \
            'FASTDDS_BUILTIN_TRANSPORTS' not in os.environ:
        profile = os.path.join(tmp, 'fastdds_shm.xml')
        with open(profile, 'w') as f:
            f.write(SHM_PROFILE)
        os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = profile
    return os.environ.get('FASTDDS_BUILTIN_TRANSPORTS') or \
        ('SHM 16 MB profile' if 'FASTDDS_DEFAULT_PROFILES_FILE' in os.environ else 'default')


def _stamp(msg: Any, t: float) -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), int((t % 1) * 1e9)


def bench_node(seconds: float, threads: int) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image
    from vla_common.image import fill_image
    from vla_common.qos import LATCHED_QOS, SENSOR_QOS
    from vla_msgs.msg import ActionChunk, Instruction, PolicyStatus
    from vla_testing.ros import MessageCollector

    tmp = tempfile.mkdtemp(prefix='bench-node-')
    transport = _large_frame_transport(tmp)
    ckpt = _checkpoint(os.path.join(tmp, 'ckpt'))
    graph = _Graph()
    proc = _start_node(ckpt, os.path.join(tmp, 'node.log'), num_threads=threads,
                       scene_threshold=1e-6, queue_threshold=0, keepalive_period=0.0)
    try:
        status = MessageCollector(graph.node, PolicyStatus, 'policy_node/status')
        chunks = MessageCollector(graph.node, ActionChunk, 'policy_node/action_chunk')
        diag = MessageCollector(graph.node, DiagnosticArray, '/diagnostics')
        _wait_idle(graph, status)
        pub = graph.node.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
        ins = graph.node.create_publisher(Instruction, 'instruction', LATCHED_QOS)
        instruction = Instruction(id='bench', text=LEFT, status=Instruction.STATUS_UNDERSTOOD)
        _stamp(instruction, time.time())
        ins.publish(instruction)
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(8)]
        recv: Dict[int, float] = {}

        def on_chunk(msg: ActionChunk) -> None:
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            recv[len(recv)] = time.time() - stamp
        graph.node.create_subscription(ActionChunk, 'policy_node/action_chunk', on_chunk, 100)
        t_end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < t_end:
            msg = fill_image(Image(), frames[i % 8])
            now = time.time()
            _stamp(msg, now)
            pub.publish(msg)
            i += 1
            time.sleep(max(0.0, 1 / 30 - (time.time() - now)))
        time.sleep(1.5)
        values = {kv.key: kv.value for s in diag.last.status for kv in s.values}
        model_ms: Dict[int, float] = {}
        for m in status.messages:
            model_ms.setdefault(int(m.inference_count), float(m.latency_last_ms))
        e2e = [recv[k] * 1e3 for k in sorted(recv)]
        overhead = [recv[k] * 1e3 - model_ms[k + 1] for k in sorted(recv) if k + 1 in model_ms]
        model = [model_ms[k] for k in sorted(model_ms) if k > 0]
        print(f'\nnode: {i} frames 640x480 rgb8 at 30 Hz over {seconds:.0f} s, '
              f'{values.get("images_received")} received by the node, {len(chunks)} inferences '
              f'(transport: {transport})')
        print('| figure | p50 (ms) | p99 (ms) |')
        print('|---|---|---|')
        print(f'| image publish -> ActionChunk received | {pct(e2e, 50):.1f} | '
              f'{pct(e2e, 99):.1f} |')
        print(f'| model (predict_action_chunk, node-reported) | {pct(model, 50):.1f} | '
              f'{pct(model, 99):.1f} |')
        print(f'| node overhead (difference, incl. DDS both ways) | {pct(overhead, 50):.1f} | '
              f'{pct(overhead, 99):.1f} |')
    finally:
        proc.send_signal(2)
        proc.wait(10)
        graph.close()


# ============================================================================== triggers

def render_drive(t: float, size: int = 224) -> np.ndarray:
    """A synthetic forward drive: floor, a box growing as it approaches, events at times."""
    img = np.zeros((size, size, 3), np.uint8)
    img[: size // 2] = (150, 180, 210)                       # wall / sky
    img[size // 2:] = (90, 80, 70)                           # floor
    phase = (t % 20.0) / 20.0                                # approach a box every 20 s
    half = int(10 + 60 * phase)
    cx = size // 2 + int(30 * np.sin(t / 7.0))
    img[size // 2 - half // 2: size // 2 + half, max(0, cx - half): cx + half] = (200, 60, 40)
    if 25.0 <= t % 60.0 < 35.0:                              # a person walks in
        img[30:210, 10:100] = (40, 200, 60)
    if 45.0 <= t % 60.0 < 50.0:                              # lights dim
        img = (img * 0.5).astype(np.uint8)
    noise = np.random.default_rng(int(t * 30)).integers(0, 6, img.shape, dtype=np.uint8)
    return img + noise


def bench_triggers(seconds: float, threads: int) -> None:
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Image
    from vla_common.image import fill_image
    from vla_common.qos import LATCHED_QOS, SENSOR_QOS
    from vla_msgs.msg import Instruction, PolicyStatus, SafetyState
    from vla_testing.ros import MessageCollector

    tmp = tempfile.mkdtemp(prefix='bench-trig-')
    ckpt = _checkpoint(os.path.join(tmp, 'ckpt'))
    rows = []
    for mode in ('event', 'periodic'):
        graph = _Graph()
        proc = _start_node(ckpt, os.path.join(tmp, f'{mode}.log'), num_threads=threads,
                           trigger_mode=mode, periodic_rate=10.0)
        try:
            status = MessageCollector(graph.node, PolicyStatus, 'policy_node/status')
            cmds = MessageCollector(graph.node, Twist, 'cmd_vel_in')
            _wait_idle(graph, status)
            img_pub = graph.node.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
            odom_pub = graph.node.create_publisher(Odometry, 'odom', SENSOR_QOS)
            safety = graph.node.create_publisher(SafetyState, 'safety_gate/state', LATCHED_QOS)
            ins = graph.node.create_publisher(Instruction, 'instruction', LATCHED_QOS)
            instruction = Instruction(id='drive', text=LEFT,
                                      status=Instruction.STATUS_UNDERSTOOD)
            instruction.header.stamp = graph.node.get_clock().now().to_msg()
            ins.publish(instruction)
            t0 = time.monotonic()
            stopped = False
            while (t := time.monotonic() - t0) < seconds:
                msg = fill_image(Image(), render_drive(t))
                msg.header.stamp = graph.node.get_clock().now().to_msg()
                img_pub.publish(msg)
                odom = Odometry()
                odom.header.stamp = msg.header.stamp
                odom.twist.twist.linear.x = 0.3 if not (14.0 <= t % 60 < 14.5) else 0.0  # bump
                odom_pub.publish(odom)
                # The gate stops for an odometry dropout (pause, then safety_resume; an e-stop
                # would cancel the instruction: a reset never restarts motion by itself).
                want_stop = 38.0 <= t % 60.0 < 41.0
                if want_stop != stopped:
                    stopped = want_stop
                    safety.publish(SafetyState(
                        state=SafetyState.STATE_STOPPED if stopped else SafetyState.STATE_OK,
                        reason_names=['ODOM_TIMEOUT'] if stopped else []))
                time.sleep(1 / 15)
            time.sleep(0.6)
            last = status.last
            per_min = 60.0 / seconds
            rows.append((mode, last.inference_count * per_min, {
                k: getattr(last, f'trigger_counts_{k}') for k in (
                    'instruction', 'queue_low', 'scene_change', 'state_change',
                    'safety_resume', 'keepalive', 'periodic')}, len(cmds), last.latency_p50_ms))
        finally:
            proc.send_signal(2)
            proc.wait(10)
            graph.close()
    print(f'\ntriggers: synthetic drive ({seconds:.0f} s, 224x224 at 15 Hz, odometry, a '
          'person entering, lights dimming, a velocity bump, a 3 s gate stop for an odometry '
          'dropout), control 10 Hz, chunk 10')
    print('| mode | inferences / min | triggers (whole run) | commands | model p50 (ms) |')
    print('|---|---|---|---|---|')
    for mode, rate, counts, ncmd, lat in rows:
        fired = ', '.join(f'{k} {v}' for k, v in counts.items() if v)
        print(f'| {mode} | {rate:.0f} | {fired} | {ncmd} | {lat:.1f} |')


# ============================================================================== reaction

RELAY = """
import sys, rclpy
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Image
from vla_common.qos import COMMAND_QOS, SENSOR_QOS
rclpy.init()
node = rclpy.create_node('reaction_relay')
pub = node.create_publisher(Twist, 'relay/cmd', COMMAND_QOS)
def on_image(msg):
    out = Twist()
    out.linear.x = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    pub.publish(out)
node.create_subscription(Image, 'relay/image', on_image, SENSOR_QOS)
print('relay ready', flush=True)
rclpy.spin(node)
"""


def _reaction_run(graph: _Graph, seconds: float, rng: np.random.Generator) -> Dict[str, Any]:
    """Scene changes at random times into a running node; what it commanded, and when."""
    from geometry_msgs.msg import Twist
    from sensor_msgs.msg import Image
    from vla_common.image import fill_image
    from vla_common.qos import LATCHED_QOS, SENSOR_QOS
    from vla_msgs.msg import ActionChunk, Instruction, PolicyStatus
    from vla_testing.ros import wait_for

    node = graph.node
    received: Dict[str, List[Any]] = {'cmd': [], 'chunks': [], 'status': []}
    node.create_subscription(Twist, 'cmd_vel_in', lambda m: received['cmd'].append(
        (time.time(), (m.linear.x, m.linear.y, m.angular.z))), 1000)
    node.create_subscription(ActionChunk, 'policy_node/action_chunk', lambda m: received[
        'chunks'].append((time.time(), m)), 1000)
    node.create_subscription(PolicyStatus, 'policy_node/status', lambda m: received[
        'status'].append(m), 1000)
    wait_for(lambda: received['status'] and received['status'][-1].state in (
        PolicyStatus.STATE_IDLE, PolicyStatus.STATE_RUNNING), 120.0, what='policy node idle')
    img_pub = node.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
    ins_pub = node.create_publisher(Instruction, 'instruction', LATCHED_QOS)
    # Coarse random blocks: a new scene changes the grey thumbnail (noise would average out)
    scenes = [np.repeat(np.repeat(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), 80, 0),
                        80, 1) for _ in range(6)]
    scene, changes, instructions = 0, [], []
    # First a new instruction every 1.5-2.5 s on a static scene (12 of them), then, on the
    # last one, a new scene every 0.5-0.9 s for `seconds`.
    t0 = time.monotonic()
    next_instruction = t0 + 1.0
    next_change = float('inf')
    t_end = float('inf')
    n_ins = 0
    while (now := time.monotonic()) < t_end:
        if now >= next_instruction and n_ins == 12:
            next_instruction, next_change, t_end = float('inf'), now + 1.0, now + seconds
        if now >= next_instruction:
            n_ins += 1
            msg = Instruction(id=f'reaction-{n_ins}', text=LEFT,
                              status=Instruction.STATUS_UNDERSTOOD)
            _stamp(msg, time.time())
            instructions.append((msg.id, time.time()))
            ins_pub.publish(msg)
            next_instruction = now + rng.uniform(1.5, 2.5)
        changed = now >= next_change
        if changed:
            scene = (scene + 1) % len(scenes)
            next_change = now + rng.uniform(0.5, 0.9)
        msg = fill_image(Image(), scenes[scene])
        t_pub = time.time()
        _stamp(msg, t_pub)
        img_pub.publish(msg)
        if changed:
            changes.append((msg.header.stamp.sec, msg.header.stamp.nanosec, t_pub))
        time.sleep(max(0.0, 1 / 30 - (time.monotonic() - now)))
    time.sleep(1.5)
    return {'changes': changes, 'instructions': instructions, **received}


def _reaction_figures(run: Dict[str, Any], seconds: float) -> Dict[str, Any]:
    """Per change: publish -> first command that is a row of a chunk from that frame on."""
    chunks = [(c.header.stamp.sec, c.header.stamp.nanosec, c.instruction_id,
               {tuple(float(v) for v in row) for row in
                np.asarray(c.data, np.float32).reshape(c.steps, c.dims).astype(np.float64)}, t)
              for t, c in run['chunks']]
    cmds = run['cmd']
    reaction: List[float] = []
    to_chunk: List[float] = []
    for sec, nsec, t_pub in run['changes']:
        later = [(r, t) for s, n, _, r, t in chunks if (s, n) >= (sec, nsec)]
        rows = set().union(*[r for r, _ in later] or [set()])
        hit = next((t for t, c in cmds if t >= t_pub and c in rows), None)
        if hit is not None:
            reaction.append((hit - t_pub) * 1e3)
            to_chunk.append((later[0][1] - t_pub) * 1e3)
    to_command: List[float] = []
    ins_chunk: List[float] = []
    for ins_id, t_pub in run['instructions']:
        mine = [(r, t) for s, n, i, r, t in chunks if i == ins_id]
        rows = set().union(*[r for r, _ in mine] or [set()])
        hit = next((t for t, c in cmds if t >= t_pub and c in rows), None)
        if hit is not None:
            to_command.append((hit - t_pub) * 1e3)
            ins_chunk.append((mine[0][1] - t_pub) * 1e3)
    model: Dict[int, float] = {}
    ins_model: Dict[str, float] = {}     # the first inference reported for each instruction
    for m in run['status']:
        if int(m.inference_count) not in model and m.instruction_id:
            ins_model.setdefault(m.instruction_id, float(m.latency_last_ms))
        model.setdefault(int(m.inference_count), float(m.latency_last_ms))
    model_ms = [v for k, v in model.items() if k > 0]
    moving = [t for t, c in cmds if any(c)]
    rate = (len(moving) - 1) / (moving[-1] - moving[0]) if len(moving) > 1 else 0.0
    return {'reaction': reaction, 'to_chunk': to_chunk, 'changes': len(run['changes']),
            'instruction': to_command, 'instruction_chunk': ins_chunk,
            'instruction_model': list(ins_model.values()),
            'model': model_ms, 'inferences': len(model_ms), 'rate': rate,
            'seconds': seconds}


def bench_reaction(seconds: float, threads: int) -> None:
    from geometry_msgs.msg import Twist
    from sensor_msgs.msg import Image
    from vla_common.image import fill_image
    from vla_common.qos import SENSOR_QOS
    from vla_testing.ros import wait_for

    tmp = tempfile.mkdtemp(prefix='bench-reaction-')
    transport = _large_frame_transport(tmp)
    ckpt = _checkpoint(os.path.join(tmp, 'ckpt'))
    results = {}
    modes = (('event', {}),
             ('periodic at the chunk rate (1 Hz)', {'trigger_mode': 'periodic',
                                                    'periodic_rate': 1.0,
                                                    'chunk_blend': 'none'}))
    for label, params in modes:
        graph = _Graph()
        proc = _start_node(ckpt, os.path.join(tmp, 'node.log'), num_threads=threads, **params)
        try:
            results[label] = _reaction_figures(
                _reaction_run(graph, seconds, np.random.default_rng(1)), seconds)
        finally:
            proc.send_signal(2)
            proc.wait(10)
            graph.close()
    # The transport floor: image publish -> a relay process -> Twist received, same frames.
    graph = _Graph()
    relay = subprocess.Popen([sys.executable, '-c', RELAY], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        back: List[float] = []
        graph.node.create_subscription(Twist, 'relay/cmd', lambda m: back.append(
            time.time() - m.linear.x), 1000)
        pub = graph.node.create_publisher(Image, 'relay/image', SENSOR_QOS)
        frame = np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)
        wait_for(lambda: pub.get_subscription_count() > 0 and
                 graph.node.count_publishers('relay/cmd') > 0, 60.0, what='relay')
        for _ in range(int(10 * 30)):
            msg = fill_image(Image(), frame)
            _stamp(msg, time.time())
            pub.publish(msg)
            time.sleep(1 / 30)
        time.sleep(1.0)
        floor = [v * 1e3 for v in back[5:]]
    finally:
        relay.kill()
        graph.close()
    print(f'\nreaction: a real policy_node (nano 64 px + LSTM 256x2, {threads} thread), '
          f'640x480 rgb8 at 30 Hz, a new scene every 0.5-0.9 s, {seconds:.0f} s per mode '
          f'(transport: {transport}); control 10 Hz, chunk 10')
    print('| mode | scene changes seen / sent | image -> first reflecting cmd p50 / p99 (ms) '
          '| image -> its chunk p50 (ms) | model p50 / p99 (ms) | instruction -> first cmd '
          'p50 / p99 (ms, n) | instruction -> its chunk p50 (ms) | instruction inference p50 '
          '(ms) | inferences | commands / s |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for label, r in results.items():
        print(f"| {label} | {len(r['reaction'])} / {r['changes']} | "
              f"{pct(r['reaction'], 50):.1f} / {pct(r['reaction'], 99):.1f} | "
              f"{pct(r['to_chunk'], 50):.1f} | "
              f"{pct(r['model'], 50):.1f} / {pct(r['model'], 99):.1f} | "
              f"{pct(r['instruction'], 50):.1f} / {pct(r['instruction'], 99):.1f} "
              f"({len(r['instruction'])}) | {pct(r['instruction_chunk'], 50):.1f} | "
              f"{pct(r['instruction_model'], 50):.1f} | {r['inferences']} | {r['rate']:.2f} |")
    print(f'| transport floor (image hop + Twist hop, relay process) | {len(floor)} frames | '
          f'{pct(floor, 50):.1f} / {pct(floor, 99):.1f} | - | - | - | - | - | - | - |')


# ================================================================================== main

def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('section', nargs='?', default='all',
                    choices=('models', 'node', 'triggers', 'reaction', 'train', 'all'))
    ap.add_argument('--full-kosmos2', action='store_true')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seconds', type=float, default=0.0)
    ap.add_argument('--worker', default='')
    args = ap.parse_args(argv)
    if args.worker:
        result = run_model_worker(json.loads(args.worker), args.threads)
        print('RESULT ' + json.dumps(result), flush=True)
        return 0
    print(f'python {sys.version.split()[0]}, {os.cpu_count()} CPUs, torch threads '
          f'{args.threads}')
    if args.section in ('models', 'all'):
        bench_models(args.full_kosmos2, args.threads)
    if args.section in ('train', 'all'):
        bench_train(args.threads)
    if args.section in ('node', 'all'):
        bench_node(args.seconds or 20.0, 1)
    if args.section in ('triggers', 'all'):
        bench_triggers(args.seconds or 60.0, 1)
    if args.section in ('reaction', 'all'):
        bench_reaction(args.seconds or 30.0, 1)
    return 0


if __name__ == '__main__':
    threading.current_thread().name = 'bench'
    raise SystemExit(main())
