"""Event-triggered Vision-Language-Action policy for a 7-DoF arm or a holonomic base.

RoboVLMs-style backbone + policy head (`policies/`), event-triggered execution
(`execution/`) and the lifecycle node that ties them to ROS 2 topics.
"""
