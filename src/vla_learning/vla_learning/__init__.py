"""Learning loop of the VLA stack: collect, convert, train, evaluate.

Offline tooling; not needed on the robot.
"""
