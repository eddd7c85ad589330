"""PyTorch modules only: no I/O, no ROS, no files."""
