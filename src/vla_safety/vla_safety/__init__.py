"""Safety gate of the VLA stack: the only path to the actuators.

Velocity/acceleration limits, geofence, scan zones, arm workspace, latched e-stop and
watchdogs, decided in a pure-Python core and applied by a thin rclpy node.
"""
