"""derain_seg_node: the thin rclpy adapter. Parameters, QoS, topics and diagnostics only;
everything else lives in ``node_core`` (threads, batching, counters) and ``image_msg``."""

from __future__ import annotations

import array
import time
from functools import partial

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.ros.image_msg import compressed_to_rgb, image_fields, image_to_rgb
from derain_seg_ros.ros.node_core import NodeCore, Result
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import make_engine

PARAMETERS = {
    "cameras": ["camera"], "transport": "raw", "input_topic": "image_raw", "input_reliability": "best_effort",
    "backend": "auto", "precision": "fp16", "engine_cache_dir": "", "checkpoint": "",
    "process_height": 0, "process_width": 0, "batch": 1,
    "publish_derained": True, "publish_label": True, "publish_color": True, "overlay_alpha": 0.5,
}


class DerainSegNode(Node):
    def __init__(self) -> None:
        super().__init__("derain_seg_node")
        p = {name: self.declare_parameter(name, default).value for name, default in PARAMETERS.items()}
        size = (p["process_height"], p["process_width"]) if p["process_height"] > 0 else None
        if not p["checkpoint"]:
            self.get_logger().warning("no checkpoint parameter: small random network, for wiring tests only")
        started = time.perf_counter()
        engine = make_engine(EngineSpec(p["backend"], p["checkpoint"] or None, config=None if p["checkpoint"] else PipelineConfig.small(),
                                        precision=p["precision"], size=size, batch=p["batch"], cache_dir=p["engine_cache_dir"] or None))
        self.get_logger().info(f"engine {engine.name} ready in {time.perf_counter() - started:.1f} s")
        self.core = NodeCore(engine, list(p["cameras"]), self._publish, process_size=size,
                             overlay_alpha=p["overlay_alpha"], with_color=p["publish_color"])
        self.pubs: dict[tuple[str, str], object] = {}
        reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        input_qos = qos_profile_sensor_data if p["input_reliability"] == "best_effort" else reliable
        outputs = [("derained/image", p["publish_derained"]), ("segmentation/label", p["publish_label"]),
                   ("segmentation/color", p["publish_color"])]
        for cam in p["cameras"]:
            for name, wanted in outputs:
                if wanted:
                    self.pubs[(cam, name)] = self.create_publisher(Image, f"{cam}/{name}", reliable)
            if p["transport"] == "compressed":
                self.create_subscription(CompressedImage, f"{cam}/{p['input_topic']}/compressed",
                                         partial(self._on_frame, cam, compressed_to_rgb), input_qos)
            else:
                self.create_subscription(Image, f"{cam}/{p['input_topic']}", partial(self._on_frame, cam, image_to_rgb), input_qos)
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)

    def _on_frame(self, camera: str, decode, msg) -> None:
        self.core.submit(camera, partial(decode, msg), msg.header)

    def _image(self, header, array_, encoding: str) -> Image:
        fields = image_fields(array_, encoding)
        fields["data"] = array.array("B", fields["data"].tobytes())
        return Image(header=header, **fields)

    def _publish(self, result: Result) -> None:
        for name, data, encoding in (("derained/image", result.derained, "rgb8"), ("segmentation/label", result.labels, "mono8"),
                                     ("segmentation/color", result.color, "rgb8")):
            pub = self.pubs.get((result.camera, name))
            if pub is not None and data is not None:
                pub.publish(self._image(result.header, data, encoding))

    def _publish_diagnostics(self) -> None:
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        for cam, stats in self.core.summary().items():
            level = DiagnosticStatus.WARN if stats["rejected"] else DiagnosticStatus.OK
            msg.status.append(DiagnosticStatus(level=level, name=f"derain_seg_node: {cam}", hardware_id=cam,
                                               message=f"{stats['processed']} processed, {stats['dropped']} dropped, {stats['rejected']} rejected",
                                               values=[KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in stats.items()]))
        self.diagnostics.publish(msg)

    def destroy_node(self) -> None:
        self.core.shutdown()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = DerainSegNode()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
