"""Bringup of the VLA stack.

Stack descriptions, launch files, parameter files, the launch-less runner, rosbag
record/replay and the demo.
"""
