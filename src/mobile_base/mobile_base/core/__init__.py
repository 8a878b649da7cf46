"""Pure core of mobile_base: no rclpy, no message types (enforced by a workspace test)."""
