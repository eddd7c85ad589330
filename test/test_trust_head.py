"""C's trust head (nets/trust.py): identity at start, able to hold back a correction that harms, grown into
older checkpoints, exported, fitted once at the head of stage 2 and never by stage 1's losses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from train_fixtures import exported_matches_torch, grown_from

from derain_seg_ros.nets.coarse import CoarseNet
from derain_seg_ros.nets.config import CoarseConfig, PipelineConfig, grown_prefixes, with_settings
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.nets.trust import TrustHead
from derain_seg_ros.runtime.checkpoint import CheckpointError, save_checkpoint
from train.stages import load_submodules

GATED = with_settings(PipelineConfig.small(), {"coarse.residual": True, "coarse.gate": True, "coarse.tone": True})
TRUSTED = with_settings(GATED, {"coarse.trust": True})


def test_a_fresh_head_leaves_c_exactly_as_without_it_at_an_odd_size() -> None:
    torch.manual_seed(0)
    trusted = DerainSegPipeline.from_config(TRUSTED).eval()
    plain = DerainSegPipeline.from_config(GATED).eval()
    with torch.no_grad():  # a C that corrects, so the identity is not the trivial one of a zero correction
        trusted.coarse.generator.head[1].bias.fill_(0.1)
    missing, unexpected = plain.load_state_dict(trusted.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith("coarse.trust.") for k in unexpected)
    x = torch.rand(2, 3, 37, 53)
    with torch.no_grad():
        out = trusted(x)
        assert torch.equal(out["coarse"], plain(x)["coarse"])
        assert (out["coarse"] - x).abs().mean() > 1e-3


def test_trust_needs_a_gated_residual_c() -> None:
    with pytest.raises(ValueError, match="coarse.trust needs coarse.residual and coarse.gate"):
        CoarseNet(CoarseConfig(residual=True, gate=False, trust=True))
    with pytest.raises(ValueError, match="coarse.trust needs coarse.residual and coarse.gate"):
        CoarseNet(CoarseConfig(residual=False, gate=True, trust=True))


def test_grown_prefixes_add_the_head_but_never_drop_it() -> None:
    gated, trusted = GATED.to_dict()["coarse"], TRUSTED.to_dict()["coarse"]
    assert grown_prefixes("coarse", gated, trusted) == ("trust.",)
    assert grown_prefixes("coarse", {k: v for k, v in gated.items() if k != "trust"}, trusted) == ("trust.",)
    assert grown_prefixes("coarse", trusted, gated) is None


def test_a_checkpoint_without_the_head_loads_with_it_at_the_identity(tmp_path: Path) -> None:
    torch.manual_seed(0)
    old = DerainSegPipeline.from_config(GATED)
    with torch.no_grad():
        for p in old.coarse.parameters():
            p.add_(0.01)
    new = grown_from(old, TRUSTED, tmp_path / "old.pt")
    assert not new.coarse.trust.head[-1].weight.any() and not new.coarse.trust.local[-1].weight.any()
    with pytest.raises(CheckpointError, match="holds coarse of"):
        load_submodules(
            DerainSegPipeline.from_config(GATED), str(save_checkpoint(tmp_path / "t.pt", new)), ("coarse",), "stage1"
        )


def rain_frames(count: int, seed: int, light: bool, size: int = 64):
    """Heavy rain with a correction that removes it exactly (M dense), or a nearly clean frame with a correction
    of noise (M sparse): the light-rain failure the head is for."""
    from train.trust_fit import Frame

    gen = torch.Generator().manual_seed(seed)
    frames = []
    for _ in range(count):
        clean = torch.rand(3, size, size, generator=gen) * 0.6 + 0.2
        if light:
            attention = (torch.rand(1, size, size, generator=gen) < 0.03).float()
            base = clean + 0.005 * torch.randn(3, size, size, generator=gen)
            correction = 0.2 * attention * torch.randn(3, size, size, generator=gen)
        else:
            attention = (torch.rand(1, size, size, generator=gen) < 0.5).float()
            rain = 0.3 * attention * torch.rand(3, size, size, generator=gen)
            base, correction = clean + rain, -rain
        frames.append(Frame(base, attention, correction, clean))
    return frames


def trust_cfg(steps: int):
    from train.config import load_config

    return load_config("smoke", ["data.crop=[64,64]", "data.dry_fraction=0.0", f"trust.steps={steps}", "trust.lr=3e-3"])


def _stack(frames):
    return [torch.stack([getattr(f, n) for f in frames]) for n in ("base", "attention", "correction", "clean")]


def test_the_fit_holds_back_a_harmful_correction_deterministically() -> None:
    from train.trust_fit import fit_on_frames, trust_loss

    held = _stack(rain_frames(8, 1, light=True))
    heads = []
    for _ in range(2):
        torch.manual_seed(0)
        head = TrustHead(width=16).requires_grad_(False)
        with torch.no_grad():
            before = trust_loss(head, *held).item()
        fit_on_frames(head, rain_frames(24, 0, light=True), [], trust_cfg(100))
        heads.append(head)
    with torch.no_grad():
        after = trust_loss(heads[0], *held).item()
        scale = heads[0].scale(*held[:3]).mean(dim=(1, 2, 3))
    assert after < before - 1.0, (before, after)  # on unseen frames, ln MSE
    assert scale.max() < 0.5, scale
    assert not any(p.requires_grad for p in heads[0].parameters())
    for a, b in zip(heads[0].state_dict().values(), heads[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_scale_never_exceeds_one_where_the_correction_is_right() -> None:
    """The head only holds back: a scale above 1 (completing corrections that fall short) cost the paper kind
    2.5 mIoU points at equal PSNR (train/RESULTS.md)."""
    from train.trust_fit import fit_on_frames

    torch.manual_seed(0)
    head = TrustHead(width=16)
    with torch.no_grad():
        head.head[-1].bias.fill_(3.0)  # a head that would amplify, unclamped, by 2 sigmoid(3) = 1.9
    heavy = _stack(rain_frames(4, 1, light=False))
    with torch.no_grad():
        assert torch.equal(head(*heavy[:3]), heavy[0] + heavy[2])
    fit_on_frames(head, rain_frames(8, 0, light=False), [], trust_cfg(20))
    with torch.no_grad():
        assert head.scale(*heavy[:3]).max() == 1.0


def test_a_head_capped_at_one_everywhere_can_still_learn_to_hold_back() -> None:
    """A fit whose first steps lift every cell above the cap (a plain clamp then passes no gradient at all) still
    holds back a harmful correction: behind a stage 1 judged by the segmenter the fit had stayed at 1.00 on every
    frame, dry ones included (train/RESULTS.md)."""
    from train.trust_fit import fit_on_frames

    torch.manual_seed(0)
    head = TrustHead(width=16)
    with torch.no_grad():
        head.head[-1].bias.fill_(0.5)  # 2 sigmoid(0.5) = 1.24: capped on every cell
    light = _stack(rain_frames(8, 1, light=True))
    with torch.no_grad():
        assert torch.equal(head.scale(*light[:3]), torch.ones_like(light[1]))
    fit_on_frames(head, rain_frames(24, 0, light=True), [], trust_cfg(100))
    with torch.no_grad():
        assert head.scale(*light[:3]).mean(dim=(1, 2, 3)).max() < 0.5


def test_the_small_pipeline_with_the_head_exports_to_onnx_and_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline.from_config(replace(TRUSTED, correction_shrink=0.0)).eval()
    with torch.no_grad():  # a C that corrects and a head whose scale differs from cell to cell
        pipeline.coarse.generator.head[1].bias.fill_(0.2)
        pipeline.coarse.trust.head[-1].bias.fill_(-1.0)
        pipeline.coarse.trust.local[-1].weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    x, ref = exported_matches_torch(pipeline, tmp_path / "trusted.onnx")
    pipeline.coarse.trust = None  # the same C without its head: the head must have changed the output
    with torch.no_grad():
        assert (ref - pipeline(x)["derained"]).abs().max() > 2 / 255


def test_coarse_frames_are_the_training_frames_through_a_and_c(tmp_path_factory) -> None:
    from train_fixtures import tiny_dataset

    from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
    from train.config import load_config
    from train.datasets import held_out_scenes
    from train.trust_fit import coarse_frames, coarse_parts

    root = tiny_dataset(tmp_path_factory, 10)
    cfg = load_config("smoke", [f"data.root={root}", "data.val_count=3"])
    pipeline = DerainSegPipeline.from_config(TRUSTED).eval()
    rainy, dry = coarse_frames(pipeline._derain, cfg)
    train = RaindropCityscapesDataset(root, "train").items
    assert len(rainy) == len(train) - len(held_out_scenes(cfg)) == len(dry) > 0  # each training scene once more, dry
    first = rainy[0]
    assert first.base.shape == first.correction.shape == first.clean.shape == (3, 32, 64)
    assert first.attention.shape == (1, 32, 64) and first.base.dtype == torch.float16
    with torch.no_grad():
        base, _, _ = coarse_parts(pipeline._derain, dry[0].clean[None].float())
    assert torch.allclose(base[0], dry[0].base.float(), atol=1e-3)


def test_stage2_fits_the_head_once_and_stage1_leaves_it_at_the_identity(tmp_path_factory, tmp_path: Path) -> None:
    """Also: stage 2's mIoU selection measures its guard's start after the fit (the start is the fitted head
    with the identity SRRN, not the head before its fit) and keeps it across a resume."""
    from train_fixtures import FAST, tiny_dataset

    from derain_seg_ros.runtime.checkpoint import load_pipeline, read_checkpoint
    from train.config import load_config
    from train.datasets import validation_items
    from train.run import main as run_main
    from train.validation import GuardedMiou

    root = tiny_dataset(tmp_path_factory, 8)
    common = ["--config", "smoke", f"data.root={root}", f"run.out={tmp_path}", *FAST, "data.crop=[32,64]"]
    model = ["model.coarse.residual=true", "model.coarse.gate=true", "model.coarse.trust=true"]
    s0 = f"init.stage0={tmp_path / 'stage0' / 'last.pt'}"
    assert run_main(["--stage", "0", *common, "stage0.epochs=1", "stage0.steps_per_epoch=2"]) == 0
    stage1 = ["--stage", "1", *common, s0, *model, "optim.epochs=1", "optim.steps_per_epoch=2"]
    assert run_main(stage1) == 0
    after1 = read_checkpoint(tmp_path / "stage1" / "last.pt")["model"]
    assert not after1["coarse.trust.head.2.bias"].any() and not after1["coarse.trust.local.2.weight"].any()
    assert after1["coarse.generator.head.1.weight"].any()  # C trained beside it
    overrides = [
        f"data.root={root}", *FAST, "data.crop=[32,64]", s0, f"init.stage1={tmp_path / 'stage1' / 'last.pt'}",
        *model, "trust.steps=30", "trust.lr=1e-2", "stage2.epochs=2", "stage2.steps_per_epoch=2",
        "stage2.select_best=true", "stage2.select_metric=miou", "data.val_count=2",
    ]  # fmt: skip
    stage2 = ["--stage", "2", "--config", "smoke", f"run.out={tmp_path}", *overrides]
    assert run_main([*stage2, "run.max_steps=1"]) == 0
    first_state = read_checkpoint(tmp_path / "stage2" / "last.pt")
    first = first_state["model"]
    assert run_main([*stage2, "--resume"]) == 0
    last_state = read_checkpoint(tmp_path / "stage2" / "last.pt")
    last = last_state["model"]
    trust_keys = [k for k in first if k.startswith("coarse.trust.")]
    assert first["coarse.trust.head.2.bias"].abs().sum() > 0  # fitted
    assert all(torch.equal(first[k], last[k]) for k in trust_keys)  # not refitted on resume, not moved by L_R / L_H

    start = first_state["validate_state"]["start_psnr"]
    assert last_state["validate_state"]["start_psnr"] == start  # kept across the resume
    items = validation_items(load_config("smoke", overrides))
    pipeline, _ = load_pipeline(tmp_path / "stage2" / "last.pt")
    with torch.no_grad():  # the start: the fitted head, the SRRN at the identity (its last layers zero)
        for block in pipeline.srrn.blocks:
            for layer in (block.unet.head[1], block.full[-1]):
                layer.weight.zero_()
                layer.bias.zero_()
    assert GuardedMiou(pipeline, items, 0.1).measure()[1] == pytest.approx(start, abs=1e-9)
    pipeline.coarse.trust = None  # the head before its fit (the identity): another PSNR
    assert GuardedMiou(pipeline, items, 0.1).measure()[1] != pytest.approx(start, abs=1e-3)
