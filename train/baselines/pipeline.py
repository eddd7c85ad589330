"""A baseline in front of the one DeepLab: its config, its pipeline and its checkpoints.

A baseline checkpoint is a pipeline checkpoint like ours (``runtime.checkpoint.save_checkpoint``);
its config names the baseline (``derainer``) and holds that network's sizes beside DeepLab's.
Older ones also hold ours and the other three baselines' sizes, which are ignored here.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from torch import nn

from derain_seg_ros.nets.config import DeepLabConfig, PipelineConfig, SRRBConfig, from_plain
from derain_seg_ros.nets.deeplab import DeepLabV3Plus
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.nets.srrn import SRRN
from derain_seg_ros.runtime.checkpoint import CheckpointError, load_pipeline, read_checkpoint
from train.baselines.agan import AGANConfig, AGANGenerator
from train.baselines.durn import DuRNSP, DuRNSPConfig
from train.baselines.icsc import ICSCConfig, ICSCGenerator
from train.baselines.prenet import PReNet, PReNetConfig
from train.baselines.refined import RefinedDerainer

NETWORKS: dict[str, tuple[type[nn.Module], Any]] = {
    "prenet": (PReNet, PReNetConfig),
    "durn": (DuRNSP, DuRNSPConfig),
    "agan": (AGANGenerator, AGANConfig),
    "icsc": (ICSCGenerator, ICSCConfig),
}
"""derainer name -> (network, its config). Each takes N x 3 x H x W in [0, 1], pads inside to its own
multiple and returns a dict with 'output' (unclamped), 'derained' (clamped) and its extras."""


@dataclass(frozen=True)
class BaselineConfig:
    """What ``DerainSegPipeline`` reads of a config (inference settings, padding), for a baseline."""

    derainer: str
    network: Any
    deeplab: DeepLabConfig = field(default_factory=DeepLabConfig)
    correction_shrink: float = 0.0
    bypass: str = "none"
    num_srrb: int = 0  # > 0: the SRRN behind the network (R + TJT over a baseline, ``refined.py``)
    srrb: SRRBConfig = field(default_factory=SRRBConfig)
    INFERENCE_ONLY: ClassVar[frozenset[str]] = PipelineConfig.INFERENCE_ONLY

    def __post_init__(self) -> None:
        if self.derainer not in NETWORKS:
            raise ValueError(f"unknown derainer {self.derainer!r}; the baselines are {list(NETWORKS)}")

    @property
    def srrn_multiple(self) -> int:
        return 2**self.srrb.unet_downsamplings

    @property
    def pad_multiple(self) -> int:
        return math.lcm(self.network.pad_multiple, self.srrn_multiple) if self.num_srrb else self.network.pad_multiple

    def to_dict(self) -> dict[str, Any]:
        plain = {
            "derainer": self.derainer,
            self.derainer: asdict(self.network),
            "deeplab": asdict(self.deeplab),
            "correction_shrink": self.correction_shrink,
            "bypass": self.bypass,
        }
        if self.num_srrb:  # under its own key: older files carry our networks' num_srrb and srrb beside theirs
            plain["refine"] = {"num_srrb": self.num_srrb, "srrb": asdict(self.srrb)}
        return plain

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineConfig:
        name = data.get("derainer", "ours")
        if name not in NETWORKS:
            raise ValueError(f"unknown derainer {name!r}; the baselines are {list(NETWORKS)}")
        return cls(
            name,
            from_plain(NETWORKS[name][1], data.get(name, {})),
            from_plain(DeepLabConfig, data.get("deeplab", {})),
            data.get("correction_shrink", 0.0),
            data.get("bypass", "none"),
            int(data.get("refine", {}).get("num_srrb", 0)),
            from_plain(SRRBConfig, data.get("refine", {}).get("srrb", {})),
        )


def baseline_config(
    name: str, preset: str = "paper", deeplab: DeepLabConfig | None = None, **settings: Any
) -> BaselineConfig:
    """Baseline ``name`` at a preset's widths: paper (= default), embedded (also for streets) or small."""
    if name not in NETWORKS:
        raise ValueError(f"unknown derainer {name!r}; the baselines are {list(NETWORKS)}")
    sizes = NETWORKS[name][1]
    widths = {
        "paper": sizes,
        "default": sizes,
        "embedded": sizes.embedded,
        "streets": sizes.embedded,
        "small": sizes.small,
    }
    return BaselineConfig(name, widths[preset](), deeplab or DeepLabConfig(), **settings)


def baseline_pipeline(cfg: BaselineConfig) -> DerainSegPipeline:
    network, _ = NETWORKS[cfg.derainer]
    derainer: nn.Module = network(cfg.network)
    if cfg.num_srrb:
        derainer = RefinedDerainer(derainer, SRRN(cfg.srrb, cfg.num_srrb), cfg.srrn_multiple)
    return DerainSegPipeline(derainer, DeepLabV3Plus(cfg.deeplab), cfg)


def load_any(path: str | os.PathLike) -> tuple[DerainSegPipeline, dict[str, Any]]:
    """A pipeline checkpoint of ours or of a baseline, built from its own config, weights loaded strictly."""
    state = read_checkpoint(path)
    if state["config"].get("derainer", "ours") == "ours":
        return load_pipeline(path)
    try:
        pipeline = baseline_pipeline(BaselineConfig.from_dict(state["config"]))
        pipeline.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} does not match its config: {exc}") from exc
    return pipeline, state
