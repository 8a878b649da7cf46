"""Named QoS profiles of the stack (STYLE.md §5): never a bare depth on a safety path."""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy)


def keep_last(depth: int, reliability: ReliabilityPolicy,
              durability: DurabilityPolicy = DurabilityPolicy.VOLATILE) -> QoSProfile:
    """A keep-last profile with every policy that matters here spelled out."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=durability)


#: Camera, odometry, scan, joint states: newest sample wins, losing one is fine.
SENSOR_QOS = keep_last(5, ReliabilityPolicy.BEST_EFFORT)

#: Commands towards and out of the safety gate: delivered, only the newest matters.
COMMAND_QOS = keep_last(1, ReliabilityPolicy.RELIABLE)

#: E-stop, safety state, current instruction: a late joiner gets the last value.
LATCHED_QOS = keep_last(1, ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL)

#: Status, text input, audio chunks, action chunks: reliable, a short queue.
RELIABLE_QOS = keep_last(10, ReliabilityPolicy.RELIABLE)

#: Audio needs a deeper queue so bursts from the capture thread are not dropped.
AUDIO_QOS = keep_last(100, ReliabilityPolicy.RELIABLE)
