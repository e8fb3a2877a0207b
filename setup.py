"""pip / editable install of the Python side of bms_ros (the development environment and CI).

On a ROS 2 workspace, colcon builds the package with CMakeLists.txt instead, which also generates msg/.
"""

from setuptools import find_packages, setup

setup(
    name="bms_ros",
    version="0.1.0",
    description="Battery management (protection, balancing, SoC) ROS 2 node for bq769x0 AFEs",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=("bms_ros", "bms_ros.*")),
    package_data={"bms_ros": ["data/*.dbc"]},  # the CAN frames' DBC (bms_ros.can_frames.DBC_PATH)
    install_requires=["numpy>=1.21", "smbus2>=0.4", "PyYAML>=5.4"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6.80", "ruff>=0.6"],
        "bags": ["rosbags>=0.10"],
        "bench": ["pybamm", "scipy>=1.8"],
        "identify": ["scipy>=1.8"],  # bms-identify's fitting; never the node
        "can": ["python-can>=4.3", "cantools>=39"],  # CAN output / CAN packs; imported only when enabled
        "serial": ["pyserial>=3.5"],  # UART/RS485 smart packs; imported only when used
        "ray": ["ray>=2.9", "rosbags>=0.10"],  # fleet replay on a cluster (bms-replay --backend ray); never the node
    },
    entry_points={
        "console_scripts": [
            "bms_node = bms_ros.nodes.bms_node:main",
            "bms_aggregator = bms_ros.nodes.aggregator_node:main",
            "bms_monitor = bms_ros.tools.monitor:main",
            "bms-replay = bms_ros.tools.replay:main",
            "bms-policies = bms_ros.tools.policies:main",
            "bms-identify = bms_ros.tools.identify.cli:main",
        ]
    },
)
