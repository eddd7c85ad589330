"""The four baseline deraining networks: outputs on odd sizes, the paper sizes, the wiring each
figure shows, their discriminators, and ONNX parity through onnxruntime."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from derain_seg_ros.nets.pipeline import count_parameters
from train.baselines.agan import AGANConfig, AGANDiscriminator, AGANDiscriminatorConfig, AGANGenerator
from train.baselines.durn import DuRNSP, DuRNSPConfig
from train.baselines.icsc import ICSCConfig, ICSCDiscriminator, ICSCDiscriminatorConfig, ICSCGenerator
from train.baselines.prenet import PReNet, PReNetConfig

SMALL_PRENET = PReNetConfig(channels=8, stages=3, res_blocks=2)
SMALL_DURN = DuRNSPConfig(
    stem_channels=8, channels=8, se_hidden=4, s_dilations=(2, 3), p_kernels_dilations=((3, 2), (5, 1))
)
SMALL_AGAN = AGANConfig(
    steps=2, attention_channels=8, attention_blocks=1, widths=(8, 8, 16), dilations=(2, 4), last_channels=8
)
SMALL_ICSC = ICSCConfig(ngf=4, downsamplings=3, res_blocks=1, dropout=0.0)

GENERATORS = {
    "prenet": lambda: PReNet(SMALL_PRENET),
    "durn": lambda: DuRNSP(SMALL_DURN),
    "agan": lambda: AGANGenerator(SMALL_AGAN),
    "icsc": lambda: ICSCGenerator(SMALL_ICSC),
}


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("size", [(37, 53), (5, 9)])
def test_derained_has_input_size_and_unit_range(name: str, size: tuple[int, int]) -> None:
    net = GENERATORS[name]().eval()
    rainy = torch.rand(2, 3, *size)
    with torch.no_grad():
        out = net(rainy)
    assert out["derained"].shape == rainy.shape
    assert out["output"].shape == rainy.shape
    assert float(out["derained"].min()) >= 0.0 and float(out["derained"].max()) <= 1.0
    assert torch.equal(out["derained"], out["output"].clamp(0, 1))


def test_prenet_returns_every_stage_and_each_is_a_residual_on_the_rainy_image() -> None:
    net = PReNet(SMALL_PRENET).eval()
    rainy = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        out = net(rainy)
        assert len(out["stages"]) == SMALL_PRENET.stages and out["output"] is out["stages"][-1]
        assert not torch.allclose(out["stages"][0], out["stages"][1])  # the recurrence changes the estimate
        nn.init.zeros_(net.f_out.weight)
        nn.init.zeros_(net.f_out.bias)
        assert all(torch.equal(s, rainy) for s in net(rainy)["stages"])


def test_durn_subtracts_its_predicted_layer_from_the_input() -> None:
    net = DuRNSP(SMALL_DURN).eval()
    rainy = torch.rand(1, 3, 23, 31)
    last_conv = net.head[-2][1]
    with torch.no_grad():
        assert not torch.allclose(net(rainy)["output"], rainy)
        nn.init.zeros_(last_conv.weight)
        nn.init.zeros_(last_conv.bias)
        assert torch.equal(net(rainy)["output"], rainy)


def test_agan_returns_one_attention_map_per_step_and_three_scales() -> None:
    net = AGANGenerator(SMALL_AGAN).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 37, 53))
    assert [tuple(m.shape) for m in out["attention"]] == [(2, 1, 37, 53)] * SMALL_AGAN.steps
    assert [tuple(s.shape) for s in out["scales"]] == [(2, 3, 10, 14), (2, 3, 19, 27), (2, 3, 37, 53)]
    assert out["output"] is out["scales"][-1]
    assert not torch.allclose(out["attention"][0], out["attention"][1])


def test_agan_discriminator_maps_at_input_size_and_judges_any_crop_size() -> None:
    disc = AGANDiscriminator(
        AGANDiscriminatorConfig(widths=(4, 4, 8), tail_widths=(8, 4), fc_grid=3, fc_hidden=8)
    ).eval()
    for size in ((32, 48), (45, 29)):
        with torch.no_grad():
            attention, logit = disc(torch.rand(2, 3, *size))
        assert attention.shape == (2, 1, *size) and logit.shape == (2, 1)


def test_icsc_discriminator_returns_interior_features_and_a_patch_score_map() -> None:
    disc = ICSCDiscriminator(ICSCDiscriminatorConfig(ndf=4)).eval()
    with torch.no_grad():
        outs = disc(torch.rand(2, 3, 64, 96))
    assert [o.shape[1] for o in outs] == [4, 8, 16, 32, 1]
    assert outs[-1].shape == (2, 1, 6, 10)


@pytest.mark.parametrize(
    "make, bad",
    [
        (PReNetConfig, {"stages": 0}),
        (DuRNSPConfig, {"channels": 0}),
        (AGANConfig, {"widths": (8, 8)}),
        (ICSCConfig, {"downsamplings": 1}),
        (ICSCConfig, {"dropout": 1.0}),
    ],
)
def test_impossible_configs_are_rejected(make: type, bad: dict) -> None:
    with pytest.raises(ValueError):
        make(**bad)


@pytest.fixture(scope="module")
def paper_nets() -> dict[str, nn.Module]:
    return {"prenet": PReNet(), "durn": DuRNSP(), "agan": AGANGenerator(), "icsc": ICSCGenerator()}


def test_paper_size_networks_take_an_image_smaller_than_their_strides(paper_nets: dict[str, nn.Module]) -> None:
    rainy = torch.rand(1, 3, 5, 9)
    for name, net in paper_nets.items():
        with torch.no_grad():
            assert net.eval()(rainy)["derained"].shape == rainy.shape, name


def test_embedded_presets_keep_the_paper_depth_at_smaller_widths(paper_nets: dict[str, nn.Module]) -> None:
    embedded = {
        "prenet": PReNet(PReNetConfig.embedded()),
        "durn": DuRNSP(DuRNSPConfig.embedded()),
        "agan": AGANGenerator(AGANConfig.embedded()),
        "icsc": ICSCGenerator(ICSCConfig.embedded()),
    }
    assert PReNetConfig.embedded().stages == PReNetConfig().stages and AGANConfig.embedded().steps == AGANConfig().steps
    rainy = torch.rand(1, 3, 20, 36)
    for name, net in embedded.items():
        assert count_parameters(net) <= count_parameters(paper_nets[name]), name
        with torch.no_grad():
            assert net.eval()(rainy)["derained"].shape == rainy.shape, name
    image = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        assert AGANDiscriminator(AGANDiscriminatorConfig.embedded()).eval()(image)[1].shape == (1, 1)
        assert ICSCDiscriminator(ICSCDiscriminatorConfig.embedded()).eval()(image)[-1].shape[:2] == (1, 1)


def _conv(i: int, o: int, k: int, bias: bool = True) -> int:
    return i * o * k * k + (o if bias else 0)


def test_paper_size_parameter_counts_match_the_public_code_layer_lists(paper_nets: dict[str, nn.Module]) -> None:
    """Expected counts are summed from the layer lists of the code each module docstring cites."""
    prenet = _conv(6, 32, 3) + 4 * _conv(64, 32, 3) + 10 * _conv(32, 32, 3) + _conv(32, 3, 3)
    assert count_parameters(paper_nets["prenet"]) == prenet == 168_963

    bn = 2 * 128
    durb = 2 * _conv(128, 128, 3) + 2 * bn
    se_t2 = 2 * _conv(128, 128, 3, bias=False) + 2 * bn + (128 * 64 + 64) + (64 * 128 + 128) + _conv(128, 128, 3) + bn
    durn = (
        _conv(3, 64, 5)
        + 2 * 64
        + _conv(64, 128, 3)
        + bn
        + _conv(128, 128, 3)
        + bn
        + 3 * (durb + _conv(128, 128, 3) + bn + se_t2)
        + sum(durb + _conv(128, 128, k) + bn + _conv(128, 128, 5) + bn for k in (3, 5, 3, 7, 3, 7))
        + _conv(128, 128, 4)
        + _conv(128, 128, 3)
        + bn
        + _conv(128, 64, 4)
        + _conv(64, 3, 5)
    )
    assert count_parameters(paper_nets["durn"]) == durn  # the code's cleaner also holds an unused PReLU (1 more)

    agan = (
        _conv(4, 32, 3)
        + 10 * _conv(32, 32, 3)
        + 4 * _conv(64, 32, 3)
        + _conv(32, 1, 3)
        + _conv(4, 64, 5)
        + _conv(64, 128, 3)
        + _conv(128, 128, 3)
        + _conv(128, 256, 3)
        + 8 * _conv(256, 256, 3)
        + _conv(256, 128, 4)
        + _conv(128, 128, 3)
        + _conv(128, 64, 4)
        + _conv(64, 32, 3)
        + _conv(256, 3, 3)
        + _conv(128, 3, 3)
        + _conv(32, 3, 3)
    )
    assert count_parameters(paper_nets["agan"]) == agan
    agan_d = (
        _conv(3, 8, 5)
        + _conv(8, 16, 5)
        + _conv(16, 64, 5)
        + _conv(64, 128, 5)
        + 2 * _conv(128, 128, 5)
        + _conv(128, 1, 5)
        + _conv(128, 64, 5)
        + _conv(64, 32, 5)
        + 32 * 14 * 14 * 1024
        + 1024
        + 1024
        + 1
    )
    assert count_parameters(AGANDiscriminator()) == agan_d

    icsc = (
        _conv(3, 32, 3)
        + _conv(32, 64, 3)
        + _conv(64, 128, 3)
        + _conv(128, 256, 3)
        + 18 * _conv(256, 256, 3)
        + _conv(256, 128, 3)
        + _conv(256, 64, 3)
        + _conv(128, 32, 3)
        + _conv(32, 3, 3)
    )
    assert count_parameters(paper_nets["icsc"]) == icsc


class _Derained(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return self.net(rainy)["derained"]


@pytest.mark.parametrize("name", GENERATORS)
def test_onnx_export_matches_torch_through_onnxruntime(name: str, tmp_path: Path) -> None:
    """Exported as runtime/onnx_export.py does (TorchScript exporter, opset 17, batch axis left free
    as for the node's batches), at an odd size, run at another batch size than traced."""
    model = _Derained(GENERATORS[name]()).eval()
    path = tmp_path / f"{name}.onnx"
    rainy = torch.rand(2, 3, 29, 43)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (rainy[:1],),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["rainy"],
            output_names=["derained"],
            dynamic_axes={"rainy": {0: "batch"}, "derained": {0: "batch"}},
        )
        expected = model(rainy).numpy()
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"rainy": rainy.numpy()})
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-3
