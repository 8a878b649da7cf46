"""ROS 2 nodes of mobile_base: thin wrappers around the pure core and the simulator."""
