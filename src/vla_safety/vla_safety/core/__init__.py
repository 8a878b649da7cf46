"""Pure decision core of the safety gate: no rclpy, no message types (STYLE.md §2).

Everything here takes plain values and an explicit `now` (seconds on one monotonic time base)
and returns decisions; the node converts messages, owns QoS, timers and parameters.
"""
