"""MuJoCo simulation of the base in the navigation scenarios (no ROS imports)."""
