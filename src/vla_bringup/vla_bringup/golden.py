"""Generate the golden bags used by the replay tests (`make_golden_bags`).

    make_golden_bags --out src/vla_bringup/test/golden [--duration 4.0]

1. Record inputs: for each of the 8 scenarios, the MuJoCo simulator with the scripted expert
   driving through the safety gate and the instruction node (voice off) on sim time; `duration`
   s after the scenario's Korean instruction are recorded (clock, camera, odometry, scan,
   instruction). Camera frames are stored JPEG-compressed (`camera/image_raw/compressed`) so a
   bag stays a few hundred kB.
2. Derive fault bags from `1box_vert_left`: the camera stops, the odometry stops, a NaN burst
   on `cmd_vel_in`, an e-stop — each at `fault_at` s.
3. Replay every input bag into a freshly started policy + safety gate (the fixture policy in
   test/fixtures/golden_policy: small, random, deterministic) and store what came out
   (`cmd_vel`, `cmd_vel_in`, `safety_gate/state`, `policy_node/action_chunk`, status) next to
   the inputs. Each golden bag's metadata (fault kind and time) is in `golden.yaml`.

    make_golden_bags --robot arm --out src/vla_bringup/test/golden_arm

does the same for the arm: one task per family in arm_sim with the scripted expert through
the gate (clock, scene camera, joint states, instruction recorded), fault bags from
`blue_block_tray` (camera stops, joint states stop, a NaN burst on arm_cmd_in, an e-stop),
replayed into the arm fixture policy (test/fixtures/golden_arm_policy) + the arm gate with the
arm stack's parameters; outputs `arm_cmd`, `arm_cmd_in`, state, chunks, status.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml
from vla_common.scenarios import SCENARIOS

from vla_bringup.bags import (bag_topics, BagMessage, BagWriter, clock_ns, message_class,
                              read_bag)
from vla_bringup.core.golden_edit import (ARM_FAULT_BASE_TASK, ARM_FAULTS, bag_metadata,
                                          derive_fault, FAULT_BASE_SCENARIO, FAULTS,
                                          restamp_to_sim_time, thin_clock, with_outputs)
from vla_bringup.stacks import NodeSpec, ParamFile, StackSpec

INPUT_RECORD = {
    '/clock': 'rosgraph_msgs/msg/Clock',
    '/camera/image_raw': 'sensor_msgs/msg/Image',
    '/odom': 'nav_msgs/msg/Odometry',
    '/scan': 'sensor_msgs/msg/LaserScan',
    '/instruction': 'vla_msgs/msg/Instruction',
}
FIXTURE_MODEL = pathlib.Path(__file__).resolve().parents[1] / 'test' / 'fixtures' / \
    'golden_policy'
#: The arm's recorded inputs, its tasks (one per family) and its fixture policy.
ARM_INPUT_RECORD = {
    '/clock': 'rosgraph_msgs/msg/Clock',
    '/camera/image_raw': 'sensor_msgs/msg/Image',
    '/joint_states': 'sensor_msgs/msg/JointState',
    '/instruction': 'vla_msgs/msg/Instruction',
}
ARM_TASKS = ('red_cup_left', 'blue_block_tray', 'green_cup_right_plate', 'reach_yellow_block')
ARM_FIXTURE_MODEL = FIXTURE_MODEL.parent / 'golden_arm_policy'


def golden_set(directory: pathlib.Path, default_model: str) -> Tuple[dict, List[str], str]:
    """A golden set's metadata (its golden.yaml; empty before `make_golden_bags` ran), its bag
    names and the fixture model its outputs were made with."""
    path = directory / 'golden.yaml'
    meta = yaml.safe_load(path.read_text()) if path.exists() else {'bags': {}}
    return meta, sorted(meta['bags']), str((directory / meta.get('model', default_model))
                                           .resolve())


def missing_records(bag: pathlib.Path, topics: Sequence[str]) -> List[str]:
    """What a golden bag lacks: any of `topics`, 20 camera frames (unless its camera stops),
    its metadata.yaml."""
    recorded = bag_topics(str(bag))
    missing = [t for t in topics if t not in recorded]
    if bag.name != 'fault_camera_stops' and \
            recorded.get('/camera/image_raw/compressed', ('', 0))[1] < 20:
        missing.append('20 compressed camera frames')
    if not (bag / 'metadata.yaml').is_file():
        missing.append('metadata.yaml')
    return missing


def expert_stack(scenario: str, seed: int) -> StackSpec:
    """MuJoCo + safety gate + scripted expert + instruction node (text only), on sim time."""
    def own(pkg, exe):
        return ParamFile(pkg, f'config/{exe}.param.yaml')
    sim = NodeSpec('mujoco_sim', 'mobile_base', 'mujoco_sim', (own('mobile_base', 'mujoco_sim'),)
                   ).with_parameters(use_sim_time=True, scenario=scenario, seed=seed)
    gate = NodeSpec('safety_gate', 'vla_safety', 'safety_gate',
                    (own('vla_safety', 'safety_gate'),)).with_parameters(
        use_sim_time=True, time_source='ros')
    expert = NodeSpec('expert_node', 'mobile_base', 'expert_node',
                      (own('mobile_base', 'expert_node'),)).with_parameters(use_sim_time=True)
    instruction = NodeSpec('instruction_node', 'vla_instruction', 'instruction_node',
                           (own('vla_instruction', 'instruction_node'),)).with_parameters(
        use_sim_time=True, voice_enabled=False)
    return StackSpec('golden-record', (sim, gate, expert, instruction))


def _record_episode(session, path: str, topics, instruction: str, duration: float, log,
                    what: str) -> None:
    """Record `topics` of a started episode for `duration` s from just before `instruction`
    is given."""
    from vla_bringup.recorder import BagRecorder

    time.sleep(0.5)
    recorder = BagRecorder(session.node, path, topics)
    time.sleep(0.3)
    session.send_text(instruction)
    time.sleep(duration)
    recorder.close()
    log(f'[golden] recorded {what}: {sum(recorder.counts.values())} messages')


def record_inputs(out_dir: str, duration: float, log=print) -> Dict[str, str]:
    """Pass 1: one raw input bag per scenario; returns scenario -> bag path."""
    from mobile_base.core.scenarios import make_instance
    from vla_bringup.session import EpisodeSession
    from vla_msgs.msg import EpisodeResult

    bags = {}
    with EpisodeSession(expert_stack(SCENARIOS[0], 0), log=lambda n, line: None) as session:
        session.start()
        for scenario in SCENARIOS:
            seed = 100 + SCENARIOS.index(scenario)
            path = os.path.join(out_dir, f'raw_{scenario}')
            session.start_episode(scenario, seed)
            session.wait_until(lambda: session._latest_outcome() == EpisodeResult.OUTCOME_RUNNING,
                               30, 'episode start')
            _record_episode(session, path, INPUT_RECORD, make_instance(scenario, seed).instruction,
                            duration, log, f'{scenario} seed {seed}')
            bags[scenario] = path
    return bags


def record_arm_inputs(out_dir: str, duration: float, log=print) -> Dict[str, str]:
    """Pass 1 for the arm: one raw input bag per task of ARM_TASKS (the expert doing it)."""
    from arm_sim.core.scene import make_scene
    from vla_bringup.arm_demo import expert_stack
    from vla_bringup.arm_session import ArmEpisodeSession
    from vla_bringup.stacks import arm_stack

    bags = {}
    stack = expert_stack(arm_stack(sim='mujoco', voice='false', policy=False))
    with ArmEpisodeSession(stack, log=lambda n, line: None) as session:
        session.start()
        for i, task in enumerate(ARM_TASKS):
            seed = 100 + i
            path = os.path.join(out_dir, f'raw_{task}')
            session.start_episode(task, seed)
            session.wait_until(lambda: session._running(task, started=False), 30,
                               'episode start')
            _record_episode(session, path, ARM_INPUT_RECORD, make_scene(task, seed).task.korean,
                            duration, log, f'{task} seed {seed}')
            bags[task] = path
    return bags


def _set_fields(msg, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        if isinstance(value, Mapping):
            _set_fields(getattr(msg, name), value)
        else:
            setattr(msg, name, value)


def encode_message(msgtype: str, fields: Mapping[str, Any]) -> bytes:
    """'pkg/msg/Name' + plain nested field values -> the serialized (CDR) message."""
    from rclpy.serialization import serialize_message

    msg = message_class(msgtype)()
    _set_fields(msg, fields)
    return serialize_message(msg)


def _compress(messages: Sequence[BagMessage]) -> List[BagMessage]:
    """Camera frames -> JPEG CompressedImage on camera/image_raw/compressed."""
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import CompressedImage, Image
    from vla_common.image import encode_compressed, image_to_rgb

    out = []
    for m in messages:
        if m.topic == '/camera/image_raw':
            img = deserialize_message(m.data, Image)
            comp = encode_compressed(CompressedImage(header=img.header), image_to_rgb(img),
                                     'jpeg', quality=90)
            out.append(BagMessage('/camera/image_raw/compressed',
                                  'sensor_msgs/msg/CompressedImage', m.timestamp,
                                  serialize_message(comp)))
        else:
            out.append(m)
    return out


def write_bag(path: str, messages: Sequence[BagMessage]) -> None:
    with BagWriter(path, 'mcap') as writer:
        for m in messages:
            writer.write(m.topic, m.msgtype, m.timestamp, m.data)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from vla_bringup.replay import (ARM_OUTPUT_TOPICS, arm_replay_stack, OUTPUT_TOPICS,
                                    ReplayHarness, replay_stack)

    parser = argparse.ArgumentParser(prog='make_golden_bags', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--robot', default='mobile', choices=('mobile', 'arm'))
    parser.add_argument('--out', required=True, help='directory for the golden bags')
    parser.add_argument('--duration', type=float, default=4.0, help='s recorded per scenario')
    parser.add_argument('--fault-at', type=float, default=2.0, help='s into the fault bags')
    parser.add_argument('--model', default='', help='policy replayed into (default: the '
                        "robot's fixture policy)")
    args = parser.parse_args(argv)
    arm = args.robot == 'arm'
    model = args.model or str(ARM_FIXTURE_MODEL if arm else FIXTURE_MODEL)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix='golden-'))
    try:
        raw = (record_arm_inputs if arm else record_inputs)(str(work), args.duration)
        inputs: Dict[str, List[BagMessage]] = {}
        for scenario, path in raw.items():
            inputs[f'nominal_{scenario}'] = thin_clock(_compress(restamp_to_sim_time(
                list(read_bag(path)), clock_ns)))
        fault_base = ARM_FAULT_BASE_TASK if arm else FAULT_BASE_SCENARIO
        base = inputs[f'nominal_{fault_base}']
        for fault in (ARM_FAULTS if arm else FAULTS):
            inputs[f'fault_{fault}'] = derive_fault(base, fault, args.fault_at, encode_message,
                                                    args.robot)
        outputs_of = ARM_OUTPUT_TOPICS if arm else OUTPUT_TOPICS
        meta = {}
        for name, messages in inputs.items():
            in_path = str(work / f'in_{name}')
            write_bag(in_path, messages)
            stack = arm_replay_stack(model) if arm else replay_stack(model)
            captured = ReplayHarness(in_path, stack, outputs=outputs_of).run()
            merged, outputs = with_outputs(messages, captured.messages, outputs_of)
            final = out / name
            if final.exists():
                shutil.rmtree(final)
            write_bag(str(final), merged)
            meta[name] = bag_metadata(name, args.fault_at, fault_base)
            print(f'[golden] {name}: {len(messages)} inputs, {len(outputs)} outputs')
        meta_doc = {'model': os.path.relpath(model, out), 'duration': args.duration,
                    'bags': meta}
        (out / 'golden.yaml').write_text(yaml.safe_dump(meta_doc, sort_keys=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
