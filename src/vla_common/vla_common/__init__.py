"""Runtime library shared by the nodes of the VLA stack.

Named QoS profiles, topic names, image <-> numpy conversion, parameter declaration helpers
and the standard node `main`.
"""
