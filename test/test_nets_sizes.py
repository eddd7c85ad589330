"""The default configuration is sized as the authors' code (docs/paper.md) and VainF's DeepLabv3+."""

from __future__ import annotations

import pytest

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline, count_parameters


@pytest.fixture(scope="module")
def counts() -> dict[str, int]:
    return DerainSegPipeline.from_config(PipelineConfig()).parameter_counts()


def test_attention_net_has_about_94k_parameters(counts: dict[str, int]) -> None:
    assert counts["attention"] == pytest.approx(94_000, rel=0.1)


def test_coarse_net_has_about_11_5m_parameters(counts: dict[str, int]) -> None:
    assert counts["coarse"] == pytest.approx(11.5e6, rel=0.1)


def test_srrn_has_about_0_92m_parameters_per_block(counts: dict[str, int]) -> None:
    assert counts["srrn"] == pytest.approx(2 * 0.92e6, rel=0.1)


def test_deeplab_resnet101_matches_vainf_size(counts: dict[str, int]) -> None:
    # VainF's deeplabv3plus_resnet101 with 19 classes: 58.75 M parameters.
    assert counts["deeplab"] == pytest.approx(58.75e6, rel=0.01)
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")


def test_small_config_is_tiny() -> None:
    assert count_parameters(DerainSegPipeline.from_config(PipelineConfig.small())) < 300_000
