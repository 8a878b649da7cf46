"""Mecanum base of the VLA stack.

Kinematics, odometry, serial motor-controller driver, and a MuJoCo simulator of the Korean
navigation task.
"""
