"""rosbag2 files written and read with `rosbags` (pure Python; `ros2 bag` compatible).

Messages are kept as CDR bytes: rclpy subscriptions with `raw=True` hand them over, rclpy
publishers accept them back, and `ros2 bag play` on the target reads the same files. The
project's own interfaces (vla_msgs) and RealMan's messages the arm stack uses
(rm_ros_interfaces) are registered in the typestore from their installed .msg files, so bags
carry full message definitions.

Bags are written with rosbag2 metadata version 8, not the newest (9): version 9 stores
`offered_qos_profiles` as a YAML list with named policies, which ROS 2 Humble's rosbag2 (the
target's `ros2 bag info/play`) cannot decode; up to version 8 it is a YAML *string* holding a
list with integer policies, which Humble decodes (docs/bringup.md, "Bags that Humble reads",
cites the upstream rules; test_bags.py checks every written bag against them). Each topic gets
the QoS profile its publisher in the stack offers, so `ros2 bag play` republishes latched
topics latched.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

#: rosbag2 metadata version written (see the module docstring: 9 is unreadable on Humble).
METADATA_VERSION = 8

#: Topics the stack publishes best effort (vla_common.qos.SENSOR_QOS, depth 5).
SENSOR_TOPICS = frozenset({'/camera/image_raw', '/camera/image_raw/compressed', '/odom', '/scan',
                           '/joint_states', '/ground_truth/odom', '/wrist_camera/image_raw'})
#: Topics the stack publishes latched (vla_common.qos.LATCHED_QOS: transient local, depth 1).
LATCHED_TOPICS = frozenset({'/instruction', '/estop', '/safety_gate/state', '/episode_result',
                            '/arm_sim/episode_result', '/policy_node/task_result'})

#: Default topics recorded for the mobile stack: inputs, policy output, gated output, results.
MOBILE_TOPICS: Dict[str, str] = {
    '/camera/image_raw': 'sensor_msgs/msg/Image',
    '/odom': 'nav_msgs/msg/Odometry',
    '/scan': 'sensor_msgs/msg/LaserScan',
    '/instruction_text': 'std_msgs/msg/String',
    '/instruction': 'vla_msgs/msg/Instruction',
    '/cmd_vel_in': 'geometry_msgs/msg/Twist',
    '/heartbeat': 'std_msgs/msg/Header',
    '/cmd_vel': 'geometry_msgs/msg/Twist',
    '/estop': 'std_msgs/msg/Bool',
    '/safety_gate/state': 'vla_msgs/msg/SafetyState',
    '/policy_node/status': 'vla_msgs/msg/PolicyStatus',
    '/policy_node/action_chunk': 'vla_msgs/msg/ActionChunk',
    '/episode_result': 'vla_msgs/msg/EpisodeResult',
    '/ground_truth/odom': 'nav_msgs/msg/Odometry',
    '/clock': 'rosgraph_msgs/msg/Clock',
}


#: Default topics recorded for the arm stack (arm_sim): both cameras, the driver's state and
#: commands, the policy's and the gate's commands, the instruction, results.
ARM_TOPICS: Dict[str, str] = {
    '/camera/image_raw': 'sensor_msgs/msg/Image',
    '/wrist_camera/image_raw': 'sensor_msgs/msg/Image',
    '/joint_states': 'sensor_msgs/msg/JointState',
    '/rm_driver/udp_arm_position': 'geometry_msgs/msg/Pose',
    '/instruction_text': 'std_msgs/msg/String',
    '/instruction': 'vla_msgs/msg/Instruction',
    '/arm_cmd_in': 'vla_msgs/msg/ArmCommand',
    '/heartbeat': 'std_msgs/msg/Header',
    '/arm_cmd': 'vla_msgs/msg/ArmCommand',
    '/rm_driver/movep_canfd_cmd': 'rm_ros_interfaces/msg/Cartepos',
    '/rm_driver/movej_canfd_cmd': 'rm_ros_interfaces/msg/Jointpos',
    '/rm_driver/move_stop_cmd': 'std_msgs/msg/Bool',
    '/rm_driver/set_gripper_position_cmd': 'rm_ros_interfaces/msg/Gripperset',
    '/estop': 'std_msgs/msg/Bool',
    '/safety_gate/state': 'vla_msgs/msg/SafetyState',
    '/policy_node/status': 'vla_msgs/msg/PolicyStatus',
    '/policy_node/action_chunk': 'vla_msgs/msg/ActionChunk',
    '/policy_node/task_result': 'vla_msgs/msg/TaskResult',
    '/arm_sim/episode_result': 'vla_msgs/msg/ArmEpisodeResult',
    '/clock': 'rosgraph_msgs/msg/Clock',
}


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    timestamp: int  # ns (receive or log time)
    data: bytes     # CDR


#: Interface packages beyond ROS 2's own whose definitions go into the bags.
INTERFACE_PACKAGES = ('vla_msgs', 'rm_ros_interfaces')


def _msg_dirs(package: str = 'vla_msgs') -> List[pathlib.Path]:
    """Directories holding a package's .msg files (installed share, or the source tree)."""
    dirs = []
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(pathlib.Path(get_package_share_directory(package)) / 'msg')
    except Exception:  # noqa: BLE001 - not installed: fall back to the source tree
        pass
    source = pathlib.Path(__file__).resolve().parents[3]
    dirs += [source / 'src' / package / 'msg', source / 'third_party' / package / 'msg']
    return [d for d in dirs if d.is_dir()]


def typestore():
    """A rosbags typestore for ROS 2 Kilted message definitions plus vla_msgs (and
    rm_ros_interfaces where it is installed)."""
    from rosbags.typesys import get_types_from_msg, Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    types: Dict[str, object] = {}
    for package in INTERFACE_PACKAGES:
        dirs = _msg_dirs(package)
        if not dirs:
            if package == 'vla_msgs':
                raise FileNotFoundError('vla_msgs .msg files not found (is the workspace '
                                        'built?)')
            continue
        for path in sorted(dirs[0].glob('*.msg')):
            types.update(get_types_from_msg(path.read_text(encoding='utf-8'),
                                            f'{package}/msg/{path.stem}'))
    store.register(types)
    return store


def offered_qos(topic: str):
    """The rosbags QoS profile the stack's publisher of `topic` offers (plain reliable else)."""
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability, QosTime)

    if topic in SENSOR_TOPICS:
        reliability, durability, depth = QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 5
    elif topic in LATCHED_TOPICS:
        reliability, durability, depth = (QosReliability.RELIABLE,
                                          QosDurability.TRANSIENT_LOCAL, 1)
    else:
        reliability, durability, depth = QosReliability.RELIABLE, QosDurability.VOLATILE, 10
    unspecified = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, depth, reliability, durability, unspecified, unspecified,
               QosLiveliness.AUTOMATIC, unspecified, False)


class BagWriter:
    """Write CDR messages to a rosbag2 directory (`storage` 'mcap' or 'sqlite3')."""

    def __init__(self, path: str, storage: str = 'mcap') -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = str(path)
        self.store = typestore()
        plugin = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}[storage]
        if os.path.exists(self.path):
            raise FileExistsError(f'bag {self.path} already exists')
        self._writer = Writer(self.path, version=METADATA_VERSION, storage_plugin=plugin)
        self._writer.open()
        self._connections: Dict[str, object] = {}
        self.count = 0

    def write(self, topic: str, msgtype: str, timestamp_ns: int, data: bytes) -> None:
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=self.store,
                                               offered_qos_profiles=[offered_qos(topic)])
            self._connections[topic] = conn
        self._writer.write(conn, int(timestamp_ns), bytes(data))
        self.count += 1

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_bag(path: str, topics: Optional[Sequence[str]] = None) -> Iterator[BagMessage]:
    """Yield the messages of a rosbag2 directory (any storage) in time order."""
    from rosbags.rosbag2 import Reader

    with Reader(str(path)) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for conn, timestamp, data in reader.messages(connections=conns):
            yield BagMessage(conn.topic, conn.msgtype, timestamp, bytes(data))


def bag_topics(path: str) -> Dict[str, Tuple[str, int]]:
    """topic -> (msgtype, message count)."""
    from rosbags.rosbag2 import Reader

    with Reader(str(path)) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}


def message_class(msgtype: str):
    """'pkg/msg/Name' -> the Python message class (rosidl_runtime_py is not on every platform)."""
    import importlib

    pkg, kind, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{pkg}.{kind}'), name)


def clock_ns(data: bytes) -> int:
    """A serialized rosgraph_msgs/Clock -> its time in ns."""
    from rclpy.serialization import deserialize_message
    from rosgraph_msgs.msg import Clock

    c = deserialize_message(data, Clock).clock
    return c.sec * 10 ** 9 + c.nanosec


def deserialize(message: BagMessage):
    """CDR bytes -> the rclpy message object (needs the message package importable)."""
    from rclpy.serialization import deserialize_message

    return deserialize_message(message.data, message_class(message.msgtype))
