"""Test utilities for the VLA stack.

rclpy pytest fixtures (isolated domain, context, executor), wait helpers, node processes
and lint checks shared by every package's tests.
"""
