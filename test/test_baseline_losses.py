"""The baselines' losses: each term's value and weighting, one Adam step lowers each network's own
loss, and each GAN loss trains only its own network."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from train.baselines.agan import AGANConfig, AGANDiscriminator, AGANDiscriminatorConfig, AGANGenerator
from train.baselines.durn import DuRNSP, DuRNSPConfig
from train.baselines.icsc import ICSCConfig, ICSCDiscriminator, ICSCDiscriminatorConfig, ICSCGenerator
from train.baselines.losses import (
    DURN_STEP2,
    AGANLossWeights,
    ICSCLossWeights,
    agan_attention_loss,
    agan_discriminator_loss,
    agan_generator_loss,
    agan_multiscale_loss,
    durn_loss,
    icsc_discriminator_loss,
    icsc_generator_loss,
    perceptual_loss,
    prenet_loss,
)
from train.baselines.prenet import PReNet, PReNetConfig

SIZE = (32, 32)


class _Features(nn.Module):
    """A fixed two-level feature extractor, standing in for the frozen segmenter's backbone."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.b = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        a = F.relu(self.a(x))
        return [a, F.relu(self.b(a))]


def _batch() -> tuple[Tensor, Tensor, Tensor]:
    clean = torch.rand(2, 3, *SIZE)
    rainy = (clean + 0.3 * (torch.rand(2, 1, *SIZE) > 0.8)).clamp(0, 1)
    return rainy, clean, ((rainy - clean).abs().amax(1, keepdim=True) > 0).to(clean.dtype)


def _agan() -> tuple[AGANGenerator, AGANDiscriminator]:
    gen = AGANGenerator(
        AGANConfig(
            steps=2, attention_channels=8, attention_blocks=1, widths=(8, 8, 16), dilations=(2,), last_channels=8
        )
    )
    disc = AGANDiscriminator(AGANDiscriminatorConfig(widths=(4, 8), tail_widths=(8, 4), fc_grid=2, fc_hidden=8))
    return gen, disc


def _icsc() -> tuple[ICSCGenerator, ICSCDiscriminator]:
    return ICSCGenerator(ICSCConfig(ngf=4, downsamplings=3, res_blocks=1, dropout=0.0)), ICSCDiscriminator(
        ICSCDiscriminatorConfig(ndf=4)
    )


def _one_step_lowers(net: nn.Module, loss_of: Callable[[], Tensor], lr: float = 1e-4) -> tuple[float, float]:
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    before = loss_of()
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = loss_of()
    return float(before.detach()), float(after)


def _generator_cases() -> dict[str, Callable[[], tuple[nn.Module, Callable[[Tensor, Tensor, Tensor], Tensor]]]]:
    features = _Features()

    def prenet():
        net = PReNet(PReNetConfig(channels=8, stages=2, res_blocks=1))
        return net, lambda r, c, m: prenet_loss(net(r), c)[0]

    def durn():
        net = DuRNSP(
            DuRNSPConfig(stem_channels=8, channels=8, se_hidden=4, s_dilations=(2,), p_kernels_dilations=((3, 2),))
        )
        return net, lambda r, c, m: durn_loss(net(r), c)[0]

    def agan():
        gen, disc = _agan()
        return gen, lambda r, c, m: agan_generator_loss(gen(r), c, m, disc=disc, features=features)[0]

    def icsc():
        gen, disc = _icsc()
        return gen, lambda r, c, m: icsc_generator_loss(gen(r), c, disc=disc, features=features)[0]

    return {"prenet": prenet, "durn": durn, "agan": agan, "icsc": icsc}


@pytest.mark.parametrize("name", ["prenet", "durn", "agan", "icsc"])
def test_one_adam_step_lowers_the_generators_own_loss(name: str) -> None:
    net, loss = _generator_cases()[name]()
    rainy, clean, mask = _batch()
    before, after = _one_step_lowers(net, lambda: loss(rainy, clean, mask))
    assert after < before


@pytest.mark.parametrize("name", ["agan", "icsc"])
def test_one_adam_step_lowers_the_discriminators_own_loss(name: str) -> None:
    gen, disc = _agan() if name == "agan" else _icsc()
    rainy, clean, _ = _batch()
    with torch.no_grad():
        out = gen(rainy)
    d_loss = agan_discriminator_loss if name == "agan" else icsc_discriminator_loss
    before, after = _one_step_lowers(disc, lambda: d_loss(disc, out, clean)[0], lr=1e-3)
    assert after < before


def _grads(module: nn.Module) -> list[Tensor | None]:
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("name", ["agan", "icsc"])
def test_each_gan_loss_reaches_only_its_own_network(name: str) -> None:
    gen, disc = _agan() if name == "agan" else _icsc()
    rainy, clean, mask = _batch()
    features = _Features()

    out = gen(rainy)
    d_loss = (agan_discriminator_loss if name == "agan" else icsc_discriminator_loss)(disc, out, clean)[0]
    d_loss.backward()
    assert all(g is None for g in _grads(gen))
    assert all(g is not None for g in _grads(disc)) and sum(float(g.abs().sum()) for g in _grads(disc)) > 0

    disc.zero_grad(set_to_none=True)
    out = gen(rainy)
    if name == "agan":
        g_loss, parts = agan_generator_loss(out, clean, mask, disc=disc, features=features)
    else:
        g_loss, parts = icsc_generator_loss(out, clean, disc=disc, features=features)
    assert "adversarial" in parts
    g_loss.backward()
    assert all(g is None for g in _grads(disc))
    assert all(p.requires_grad for p in disc.parameters())  # frozen only while the generator loss ran
    assert sum(float(g.abs().sum()) for g in _grads(gen) if g is not None) > 0


@pytest.mark.parametrize("name", ["agan", "icsc"])
def test_adversarial_term_alone_trains_the_generator_through_the_frozen_discriminator(name: str) -> None:
    gen, disc = _agan() if name == "agan" else _icsc()
    rainy, clean, mask = _batch()
    out = gen(rainy)
    if name == "agan":
        loss, parts = agan_generator_loss(
            out, clean, mask, disc=disc, weights=AGANLossWeights(attention=0.0, multiscale=0.0)
        )
    else:
        loss, parts = icsc_generator_loss(out, clean, disc=disc, weights=ICSCLossWeights(feature_matching=0.0))
    assert parts["adversarial"] != 0
    loss.backward()
    assert all(p.grad is None for p in disc.parameters())
    assert sum(float(p.grad.abs().sum()) for p in gen.parameters() if p.grad is not None) > 0


def test_prenet_loss_is_negative_ssim_of_the_last_stage_with_minimum_minus_one() -> None:
    clean = torch.rand(1, 3, 24, 24)
    total, parts = prenet_loss({"output": clean.clone(), "stages": [torch.zeros_like(clean), clean]}, clean)
    assert float(total) == pytest.approx(-1.0, abs=1e-6) and parts == {
        "neg_ssim": parts["total"],
        "total": parts["total"],
    }
    worse, _ = prenet_loss({"output": torch.zeros_like(clean)}, clean)
    assert float(worse) > -0.5


def test_durn_loss_weights_ssim_and_l1_as_the_raindrop_schedule() -> None:
    clean = torch.rand(1, 3, 24, 24)
    out = {"output": (clean + 0.1).clamp(0, 1)}
    total, parts = durn_loss(out, clean)
    assert float(total) == pytest.approx(1.1 * parts["neg_ssim"] + 0.75 * parts["l1"], rel=1e-6)
    fine_total, fine_parts = durn_loss(out, clean, DURN_STEP2)
    assert "neg_ssim" not in fine_parts and float(fine_total) == pytest.approx(1.1 * parts["l1"], rel=1e-6)


def test_agan_attention_loss_weighs_later_steps_more() -> None:
    mask = (torch.rand(1, 1, 8, 8) > 0.5).float()
    wrong = 1 - mask  # MSE 1 against the mask
    assert float(agan_attention_loss([wrong, mask, mask, mask], mask)) == pytest.approx(0.8**3)
    assert float(agan_attention_loss([mask, mask, mask, wrong], mask)) == pytest.approx(1.0)


def test_agan_multiscale_loss_compares_each_output_with_the_clean_image_at_its_size() -> None:
    clean = torch.rand(1, 3, 16, 24)
    exact = [F.interpolate(clean, size=(4, 6), mode="area"), F.interpolate(clean, size=(8, 12), mode="area"), clean]
    assert float(agan_multiscale_loss(exact, clean)) == pytest.approx(0.0, abs=1e-12)
    off = [exact[0] + 0.1, exact[1], exact[2]]
    assert float(agan_multiscale_loss(off, clean)) == pytest.approx(0.6 * 0.01, rel=1e-4)


def test_perceptual_term_is_left_out_without_a_feature_extractor_and_vanishes_on_the_clean_image() -> None:
    gen, _ = _agan()
    rainy, clean, mask = _batch()
    with torch.no_grad():
        out = gen(rainy)
    _, parts = agan_generator_loss(out, clean, mask)
    assert set(parts) == {"attention", "multiscale", "total"}
    _, parts = agan_generator_loss(out, clean, mask, features=_Features(), weights=AGANLossWeights(perceptual=2.0))
    assert parts["total"] == pytest.approx(
        parts["attention"] + parts["multiscale"] + 2.0 * parts["perceptual"], rel=1e-5
    )
    assert float(perceptual_loss(_Features(), clean, clean)) == 0.0
    assert float(perceptual_loss(_Features(), out["output"], clean, "l1", pyramid_weights=True)) > 0


def test_agan_discriminator_map_term_targets_the_generators_last_attention() -> None:
    _, disc = _agan()
    clean = torch.rand(1, 3, *SIZE)
    with torch.no_grad():
        map_fake, _ = disc(clean)
    out = {"output": clean, "attention": [torch.zeros_like(map_fake), map_fake]}
    total, parts = agan_discriminator_loss(disc, out, clean, gamma=0.05)
    assert parts["map"] == pytest.approx(float(map_fake.pow(2).mean()), rel=1e-5)  # only the real image's map is off
    assert float(total.detach()) == pytest.approx(parts["entropy"] + 0.05 * parts["map"], rel=1e-6)


def test_icsc_generator_loss_without_discriminator_or_features_is_an_error() -> None:
    gen, _ = _icsc()
    rainy, clean, _ = _batch()
    with pytest.raises(ValueError):
        icsc_generator_loss(gen(rainy), clean)
