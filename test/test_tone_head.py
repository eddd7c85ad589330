"""The tone head in front of C (nets/tone.py), global and with its grid: identity at start, able to lift a veil,
grown into older checkpoints."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from train_fixtures import exported_matches_torch, grown_from

from derain_seg_ros.nets.coarse import CoarseNet
from derain_seg_ros.nets.config import CoarseConfig, PipelineConfig, grown_prefixes, with_settings
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.nets.tone import ToneHead
from derain_seg_ros.runtime.checkpoint import CheckpointError, save_checkpoint
from train.stages import load_submodules

RESIDUAL = with_settings(PipelineConfig.small(), {"coarse.residual": True, "coarse.gate": True})
TONED = with_settings(RESIDUAL, {"coarse.tone": True})
GRIDDED = with_settings(TONED, {"coarse.tone_grid": True})


@pytest.mark.parametrize("cfg", [TONED, GRIDDED], ids=["global", "grid"])
def test_a_fresh_head_leaves_c_exactly_as_without_it_at_an_odd_size(cfg: PipelineConfig) -> None:
    torch.manual_seed(0)
    toned = DerainSegPipeline.from_config(cfg).eval()
    plain = DerainSegPipeline.from_config(RESIDUAL).eval()
    missing, unexpected = plain.load_state_dict(toned.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith("coarse.tone.") for k in unexpected)
    x = torch.rand(2, 3, 37, 53)
    with torch.no_grad():
        assert torch.equal(toned(x)["derained"], plain(x)["derained"])


def test_the_head_learns_to_lift_a_veil_that_differs_per_frame() -> None:
    """Frames veiled as a * clean + (1 - a) * 0.7 with a per frame: the head, trained alone, undoes most of it."""
    gen = torch.Generator().manual_seed(0)
    head = ToneHead(width=16)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        clean = torch.rand(8, 3, 32, 32, generator=gen) * 0.6 + 0.1
        a = torch.rand(8, 1, 1, 1, generator=gen) * 0.5 + 0.5
        return a * clean + (1 - a) * 0.7, clean

    test_veiled, test_clean = batch()
    before = torch.mean((test_veiled - test_clean) ** 2).item()
    for _ in range(300):
        veiled, clean = batch()
        loss = torch.mean((head(veiled) - clean) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = torch.mean((head(test_veiled) - test_clean) ** 2).item()
    assert after < 0.25 * before, (before, after)


def test_only_the_grid_lifts_a_veil_that_thickens_down_the_frame() -> None:
    """Haze that grows with depth (here: with the row) needs a gain and offset per grid cell; one per frame cannot follow it."""
    from train.tone_fit import tone_loss

    gen = torch.Generator().manual_seed(0)
    rows = torch.linspace(0, 1, 32)[:, None]

    def batch() -> tuple[torch.Tensor, torch.Tensor]:  # frames at the head's resolution (1 / POOL): a 4 x 4 grid
        clean = torch.rand(8, 3, 32, 32, generator=gen) * 0.6 + 0.1
        thickness = torch.rand(8, 1, 1, 1, generator=gen) * 0.4 + 0.2
        a = 1 - thickness * rows  # clear at the top, thick veil at the bottom
        return a * clean + (1 - a) * 0.7, clean

    test_veiled, test_clean = batch()
    scores = {}
    for local in (False, True):
        torch.manual_seed(0)
        head = ToneHead(width=16, local=local)
        opt = torch.optim.Adam(head.parameters(), lr=3e-3)
        for _ in range(300):
            loss = tone_loss(head, *batch())
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            scores[local] = tone_loss(head, test_veiled, test_clean).item()
    assert scores[True] < scores[False] - 1.0, scores  # ln MSE: the grid's error is e times smaller and more


def test_tone_needs_a_residual_c_and_the_grid_needs_the_tone_head() -> None:
    with pytest.raises(ValueError, match="coarse.tone needs coarse.residual"):
        CoarseNet(CoarseConfig(residual=False, tone=True))
    with pytest.raises(ValueError, match="coarse.tone_grid needs coarse.tone"):
        CoarseNet(CoarseConfig(residual=True, tone_grid=True))


def test_grown_prefixes_allow_only_adding_an_identity_module() -> None:
    plain, toned = RESIDUAL.to_dict()["coarse"], TONED.to_dict()["coarse"]
    assert grown_prefixes("coarse", plain, plain) == ()
    assert grown_prefixes("coarse", plain, toned) == ("tone.",)
    assert grown_prefixes("coarse", {k: v for k, v in plain.items() if k != "tone"}, toned) == ("tone.",)
    assert grown_prefixes("coarse", toned, plain) is None  # dropping a trained head would lose weights
    gridded = GRIDDED.to_dict()["coarse"]
    assert grown_prefixes("coarse", toned, gridded) == ("tone.local.",)
    assert grown_prefixes("coarse", {k: v for k, v in toned.items() if k != "tone_grid"}, gridded) == ("tone.local.",)
    assert grown_prefixes("coarse", plain, gridded) == ("tone.", "tone.local.")
    assert grown_prefixes("coarse", gridded, toned) is None
    assert grown_prefixes("coarse", plain, {**toned, "ngf": 4}) is None
    assert grown_prefixes("attention", {"blocks": 1, "tone": False}, {"blocks": 1, "tone": True}) is None


def test_a_checkpoint_without_the_head_starts_a_run_with_it_and_not_the_reverse(tmp_path: Path) -> None:
    torch.manual_seed(0)
    old = DerainSegPipeline.from_config(RESIDUAL)
    with torch.no_grad():
        for p in old.coarse.parameters():
            p.add_(0.01)
    new = grown_from(old, TONED, tmp_path / "old.pt")
    assert not new.coarse.tone.head[-1].weight.any() and not new.coarse.tone.head[-1].bias.any()

    toned_path = save_checkpoint(tmp_path / "toned.pt", new)
    with pytest.raises(CheckpointError, match="holds coarse of"):
        load_submodules(DerainSegPipeline.from_config(RESIDUAL), str(toned_path), ("coarse",), "stage1")

    with torch.no_grad():  # a fitted global head: kept as it is when the grid joins
        new.coarse.tone.head[-1].bias.fill_(0.05)
    gridded = grown_from(new, GRIDDED, tmp_path / "toned.pt")
    assert not gridded.coarse.tone.local[-1].weight.any() and not gridded.coarse.tone.local[-1].bias.any()
    gridded_path = save_checkpoint(tmp_path / "gridded.pt", gridded)
    with pytest.raises(CheckpointError, match="holds coarse of"):
        load_submodules(DerainSegPipeline.from_config(TONED), str(gridded_path), ("coarse",), "stage1")


@pytest.mark.parametrize("cfg", [TONED, GRIDDED], ids=["global", "grid"])
def test_the_small_pipeline_with_the_head_exports_to_onnx_and_matches_torch(
    tmp_path: Path, cfg: PipelineConfig
) -> None:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline.from_config(replace(cfg, correction_shrink=0.0)).eval()
    with torch.no_grad():  # a head that acts, so the exported graph's tone path is exercised
        pipeline.coarse.tone.head[-1].bias.copy_(torch.tensor([0.2, -0.1, 0.1, -0.05, 0.05, 0.0]))
        if pipeline.coarse.tone.local is not None:  # and a grid that differs from cell to cell
            pipeline.coarse.tone.local[-1].weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
    x, ref = exported_matches_torch(pipeline, tmp_path / "toned.onnx")
    assert (ref - x).abs().mean() > 2 / 255  # the head changed the frame


def veiled_frames(count: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(rainy, clean) at the head's resolution, veiled as a * clean + (1 - a) * 0.7 with a per frame."""
    gen = torch.Generator().manual_seed(seed)
    frames = []
    for _ in range(count):
        clean = torch.rand(3, 24, 32, generator=gen) * 0.6 + 0.1
        a = float(torch.rand(1, generator=gen)) * 0.5 + 0.5
        frames.append((a * clean + (1 - a) * 0.7, clean))
    return frames


def tone_cfg(steps: int):
    from train.config import load_config

    return load_config("smoke", ["data.crop=[64,96]", "data.dry_fraction=0.2", f"tone.steps={steps}", "tone.lr=3e-3"])


def test_fit_tone_trains_the_head_alone_deterministically_and_restores_its_frozen_state(monkeypatch) -> None:
    from train import tone_fit

    monkeypatch.setattr(tone_fit, "pooled_frames", lambda cfg: veiled_frames(24, 0))
    held = veiled_frames(8, 1)
    rainy, clean = torch.stack([r for r, _ in held]), torch.stack([c for _, c in held])
    heads = []
    for _ in range(2):
        torch.manual_seed(0)
        head = ToneHead(width=16).requires_grad_(False)
        with torch.no_grad():
            before = tone_fit.tone_loss(head, rainy, clean).item()
        tone_fit.fit_tone(head, tone_cfg(300))
        heads.append(head)
    with torch.no_grad():
        after = tone_fit.tone_loss(heads[0], rainy, clean).item()
    assert after < before - 0.5, (before, after)  # ln MSE: the veil's error shrinks by e^0.5 and more on unseen frames
    assert not any(p.requires_grad for p in heads[0].parameters())
    for a, b in zip(heads[0].state_dict().values(), heads[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_pooled_frames_are_the_training_frames_at_the_heads_resolution(tmp_path_factory) -> None:
    from train_fixtures import tiny_dataset

    from train.config import load_config
    from train.datasets import held_out_scenes
    from train.tone_fit import pooled_frames

    root = tiny_dataset(tmp_path_factory, 10)
    all_frames = pooled_frames(load_config("smoke", [f"data.root={root}"]))
    cfg = load_config("smoke", [f"data.root={root}", "data.val_count=3"])
    kept = pooled_frames(cfg)
    assert all(r.shape == c.shape == (3, 8, 16) for r, c in all_frames)
    assert len(kept) == len(all_frames) - len(held_out_scenes(cfg)) and len(held_out_scenes(cfg)) == 3
    other = tiny_dataset(tmp_path_factory, 4)
    both = pooled_frames(load_config("smoke", [f"data.root={root}", f"data.extra_roots=[{other}]"]))
    own = pooled_frames(
        load_config("smoke", [f"data.root={root}", f"data.extra_roots=[{other}]", f"tone.roots=[{other}]"])
    )
    alone = pooled_frames(load_config("smoke", [f"data.root={other}"]))
    assert len(both) == len(all_frames) + len(alone)
    assert [r.sum() for r, _ in own] == [r.sum() for r, _ in alone]  # tone.roots replaces the stage's sets


def test_stage1_fits_the_head_once_and_keeps_it_frozen_across_resume(tmp_path_factory, tmp_path: Path) -> None:
    from train_fixtures import FAST, tiny_dataset

    from derain_seg_ros.runtime.checkpoint import read_checkpoint
    from train.run import main as run_main

    root = tiny_dataset(tmp_path_factory, 8)
    common = ["--config", "smoke", f"data.root={root}", f"run.out={tmp_path}", *FAST]
    assert run_main(["--stage", "0", *common, "stage0.epochs=1", "stage0.steps_per_epoch=2"]) == 0
    stage1 = [
        "--stage", "1", *common, f"init.stage0={tmp_path / 'stage0' / 'last.pt'}", "model.coarse.residual=true",
        "model.coarse.tone=true", "tone.steps=40", "tone.lr=1e-2", "data.crop=[32,64]", "optim.epochs=2",
        "optim.steps_per_epoch=2",
    ]  # fmt: skip
    assert run_main([*stage1, "run.max_steps=1"]) == 0
    first = read_checkpoint(tmp_path / "stage1" / "last.pt")["model"]
    assert run_main([*stage1, "--resume"]) == 0
    last = read_checkpoint(tmp_path / "stage1" / "last.pt")["model"]
    tone_keys = [k for k in first if k.startswith("coarse.tone.")]
    assert first["coarse.tone.head.2.bias"].abs().sum() > 0  # fitted: no longer the zero it starts at
    assert all(torch.equal(first[k], last[k]) for k in tone_keys)  # not refitted on resume, not moved by C's losses
    assert not torch.equal(first["coarse.generator.head.1.weight"], last["coarse.generator.head.1.weight"])


def test_a_second_fine_tune_with_refit_off_keeps_the_loaded_head_frozen(
    tmp_path_factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from train_fixtures import FAST, tiny_dataset

    from derain_seg_ros.runtime.checkpoint import read_checkpoint
    from train.run import main as run_main

    root = tiny_dataset(tmp_path_factory, 8)
    common = ["--config", "smoke", f"data.root={root}", *FAST]
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_main(["--stage", "0", *common, f"run.out={first}", "stage0.epochs=1", "stage0.steps_per_epoch=2"]) == 0
    stage1 = [
        "--stage", "1", *common, f"init.stage0={first / 'stage0' / 'last.pt'}", "model.coarse.residual=true",
        "model.coarse.tone=true", "tone.lr=1e-2", "optim.epochs=1", "optim.steps_per_epoch=2",
    ]  # fmt: skip
    assert run_main([*stage1, f"run.out={first}", "tone.steps=40"]) == 0
    fitted = read_checkpoint(first / "stage1" / "last.pt")["model"]
    again = [*stage1, f"run.out={second}", f"init.stage1={first / 'stage1' / 'last.pt'}", "tone.refit=false"]
    assert run_main(again) == 0
    tuned = read_checkpoint(second / "stage1" / "last.pt")["model"]
    tone_keys = [k for k in fitted if k.startswith("coarse.tone.")]
    assert tone_keys and fitted["coarse.tone.head.2.bias"].abs().sum() > 0
    assert all(torch.equal(fitted[k], tuned[k]) for k in tone_keys)  # neither refitted nor moved by C's losses
    assert not torch.equal(fitted["coarse.generator.head.1.weight"], tuned["coarse.generator.head.1.weight"])
    assert run_main([*stage1, f"run.out={tmp_path / 'third'}", "tone.refit=false"]) == 2  # nothing to keep
    assert "tone.refit=false keeps the tone head of init.stage1 frozen: set init.stage1" in capsys.readouterr().err
