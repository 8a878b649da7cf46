"""Runtime library shared by the nodes of the VLA stack.

Named QoS profiles, topic names, image <-> numpy conversion, parameter declaration helpers
and the standard node `main`; and two pure modules (no rclpy, no messages) that the pure cores
of several packages import: `scenarios` (the 8 navigation scenarios) and `planar` (`Twist2D`,
`Point`, segment crossing).
"""
