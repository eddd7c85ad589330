"""Offline rosbag2 tools (the ``rosbags`` package, no ROS install): run the engine over a bag
(``replay``), write image folders or a synthetic drive as bags (``from_folder``, ``demo_drive``) and
publish a bag live (``play``). They share the node's topic naming (``ros/outputs.py``)."""
