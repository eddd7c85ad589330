"""The baselines through the one training loop: a GAN's kill + resume equals an uninterrupted run
(generator and discriminator), a divergence stops it with its checkpoint kept, each network moves
only under its own optimizer step, DDP ranks agree, and ``ablation.py --baselines`` puts the four
columns before ours (RobotCar(R) too)."""

from __future__ import annotations

import csv
import shutil
import types
from pathlib import Path

import pytest
import torch
from train_fixtures import FAST, tiny_dataset, two_rank_digests

from derain_seg_ros.runtime.checkpoint import read_checkpoint
from train.ablation import main as ablation_main
from train.baselines.jobs import baseline_job
from train.baselines.pipeline import load_any
from train.config import load_config
from train.datasets import train_dataset
from train.distributed import DistInfo
from train.loop import fit
from train.run import main as run_main
from train.variants import BASELINES


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_dataset(tmp_path_factory, 12)


@pytest.fixture(scope="module")
def stage0(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished (tiny) stage 0: the frozen DeepLab the baselines sit in front of."""
    out = tmp_path_factory.mktemp("runs")
    assert (
        run_main(
            [
                "--stage",
                "0",
                "--config",
                "smoke",
                f"data.root={dataset}",
                f"run.out={out}",
                *FAST,
                "stage0.epochs=1",
                "stage0.steps_per_epoch=2",
            ]
        )
        == 0
    )
    return out / "stage0" / "last.pt"


def train(variant: str, data: Path, out: Path, stage0: Path, *extra: str) -> Path:
    args = [
        "--variant",
        variant,
        "--config",
        "smoke",
        f"data.root={data}",
        f"run.out={out}",
        f"init.stage0={stage0}",
        *FAST,
        *extra,
    ]
    assert run_main(args) == 0
    return out / variant / "last.pt"


def test_gan_kill_and_resume_equals_an_uninterrupted_run(dataset: Path, stage0: Path, tmp_path: Path) -> None:
    """ICSC: its generator has dropout (the saved RNG state matters), its discriminator BatchNorm."""
    variant = "ICSC"
    common = ["optim.epochs=2", "optim.steps_per_epoch=2", "optim.milestones=[0.5]"]
    whole = train(variant, dataset, tmp_path / "whole", stage0, *common)
    stopped = train(variant, dataset, tmp_path / "resumed", stage0, *common, "run.max_steps=1")  # killed mid-epoch 0
    assert read_checkpoint(stopped)["step"] == 1
    resumed = train(variant, dataset, tmp_path / "resumed", stage0, *common, "--resume")
    a, b = read_checkpoint(whole), read_checkpoint(resumed)
    assert a["step"] == b["step"] == 4
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["adversary"].keys() == b["adversary"].keys()
    assert all(torch.equal(a["adversary"][k], b["adversary"][k]) for k in a["adversary"])  # BN statistics included
    assert a["adversary_scheduler"]["last_epoch"] == b["adversary_scheduler"]["last_epoch"] == 4
    # The discriminator is kept beside the pipeline, never in it: the exported graph loads without it.
    pipeline, _ = load_any(resumed)
    assert pipeline.cfg.derainer == BASELINES[variant].derainer
    assert set(a["model"]) == set(pipeline.state_dict()) and not set(a["model"]) & set(a["adversary"])
    with (tmp_path / "whole" / variant / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {"loss_total", "loss_disc_total"} <= set(rows[0])


def test_a_diverging_gan_run_stops_with_a_clear_error_and_keeps_its_checkpoint(
    dataset: Path, stage0: Path, tmp_path: Path, capsys
) -> None:
    common = [
        "--variant",
        "AGAN",
        "--config",
        "smoke",
        f"data.root={dataset}",
        f"run.out={tmp_path}",
        *FAST,
        f"init.stage0={stage0}",
        "optim.epochs=3",
        "optim.steps_per_epoch=2",
    ]
    assert run_main([*common, "run.max_steps=2"]) == 0  # one good epoch on disk
    before = read_checkpoint(tmp_path / "AGAN" / "last.pt")
    assert run_main([*common, "--resume", "optim.lr=1e30"]) == 2  # steps of 1e30 overflow within a step or two
    err = capsys.readouterr().err
    assert "loss became" in err and "checkpoint of step 2 is kept" in err  # the generator's or the discriminator's
    after = read_checkpoint(tmp_path / "AGAN" / "last.pt")
    assert after["step"] == 2
    assert all(torch.equal(before[part][k], after[part][k]) for part in ("model", "adversary") for k in before[part])


def test_each_network_moves_only_under_its_own_optimizer_step(dataset: Path, stage0: Path, tmp_path: Path) -> None:
    """Inside the loop: per batch the discriminator steps first (after the generator's forward),
    then the generator; neither step moves the other's weights, and neither backward pass leaves
    gradients on the other's parameters."""
    cfg = load_config(
        "smoke",
        [
            f"data.root={dataset}",
            f"run.out={tmp_path}",
            f"init.stage0={stage0}",
            *FAST,
            "optim.epochs=1",
            "optim.steps_per_epoch=3",
        ],
    )
    job = baseline_job(cfg, BASELINES["ICSC"])
    assert job.adversary is not None
    generator, disc = job.pipeline.derainer, job.adversary.module
    events: list[tuple[str, bool, bool]] = []
    grads: dict[str, list[torch.Tensor | None]] = {
        "generator": [None] * len(list(generator.parameters())),
        "discriminator": [None] * len(list(disc.parameters())),
    }

    def params(module: torch.nn.Module) -> list[torch.Tensor]:
        return [p.detach().clone() for p in module.parameters()]

    def same(a: list[torch.Tensor | None], b: list[torch.Tensor | None]) -> bool:
        return all(
            (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y)) for x, y in zip(a, b)
        )

    def instrumented(make, who: str, own: torch.nn.Module, other: torch.nn.Module, other_name: str):
        def build(p):
            optimizer = make(p)
            step = optimizer.step

            def checked_step(self, *args, **kwargs):
                # The other network's gradients are still what its own last backward left.
                assert same([q.grad for q in other.parameters()], grads[other_name]), (
                    f"{who}'s backward touched {other_name}"
                )
                own_before, other_before = params(own), params(other)
                result = step(*args, **kwargs)
                events.append((who, not same(own_before, params(own)), same(other_before, params(other))))
                grads[who] = [None if q.grad is None else q.grad.clone() for q in own.parameters()]
                return result

            optimizer.step = types.MethodType(checked_step, optimizer)  # a bound method, as LambdaLR expects
            return optimizer

        return build

    job.optimizer_fn = instrumented(job.optimizer_fn, "generator", generator, disc, "discriminator")
    job.adversary.optimizer_fn = instrumented(job.adversary.optimizer_fn, "discriminator", disc, generator, "generator")
    fit(job, cfg, train_dataset(cfg), tmp_path / "ICSC", DistInfo())
    assert [who for who, _, _ in events] == ["discriminator", "generator"] * 3
    assert all(moved and other_unchanged for _, moved, other_unchanged in events)


def test_two_process_ddp_ranks_end_with_identical_generator_and_discriminator(
    dataset: Path, stage0: Path, tmp_path: Path
) -> None:
    found = two_rank_digests(
        [
            "--variant",
            "ICSC",
            "--config",
            "smoke",
            f"data.root={dataset}",
            f"run.out={tmp_path}",
            f"init.stage0={stage0}",
            "optim.epochs=1",
            "optim.steps_per_epoch=2",
            *FAST,
        ],
        ("weights", "adversary"),
    )
    for what, digests in found.items():
        assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], what
    assert read_checkpoint(tmp_path / "ICSC" / "last.pt")["step"] == 2


def make_robotcar(root: Path, dataset: Path) -> None:
    """Two rain pairs in RobotCar(R)'s layout (left/left_<ts>.png dry, right/right_<ts>.png wet)."""
    for i, name in enumerate(sorted((dataset / "clean").glob("*.png"))[:2]):
        for side, folder in (("left", "clean"), ("right", "rainy")):
            (root / side).mkdir(parents=True, exist_ok=True)
            shutil.copy(dataset / folder / name.name, root / side / f"{side}_14000000{i:02d}.png")


def test_ablation_with_baselines_puts_the_four_columns_before_ours(dataset: Path, stage0: Path, tmp_path: Path) -> None:
    shutil.copytree(stage0.parent, tmp_path / "stage0")  # a finished stage 0 is resumed, not retrained
    make_robotcar(tmp_path / "robotcar", dataset)
    args = [
        "--config",
        "smoke",
        "--out",
        str(tmp_path),
        f"data.root={dataset}",
        *FAST,
        "stage0.epochs=1",
        "stage0.steps_per_epoch=2",
        "optim.epochs=1",
        "optim.steps_per_epoch=1",
        "--baselines",
        "--rows",
        "A/C",
        "ICSC",
        "DuRN",
        "PReNet",
        "AGAN",
        "DuRN+R+TJT",
        "--robotcar",
        str(tmp_path / "robotcar"),
    ]
    assert ablation_main(args) == 0
    report = (tmp_path / "REPORT.md").read_text()
    headers = [line for line in report.splitlines() if line.startswith("| |")]
    expected = "| | Rainy | AGAN | PReNet | DuRN | ICSC | DuRN+R+TJT | A/C | Clean (upper bound) |"
    assert headers == [expected, expected]  # the synthetic test split, then RobotCar(R)
    assert "RobotCar(R)" in report and "rain pairs: 2" in report
    assert "backbone features" in report and "`layer1` tap" in report
    for name in ("AGAN", "PReNet", "DuRN", "ICSC"):
        assert read_checkpoint(tmp_path / name / "last.pt")["config"]["derainer"] == BASELINES[name].derainer
    params = next(line for line in report.splitlines() if line.startswith("| parameters |")).split("|")[3:7]
    assert len({p.strip() for p in params}) == 4  # four different networks, each counted with the same DeepLab


def test_ablation_rejects_a_robotcar_folder_without_the_layout_before_training(tmp_path: Path, capsys) -> None:
    assert (
        ablation_main(
            ["--config", "smoke", "--out", str(tmp_path), "--baselines", "--robotcar", str(tmp_path / "none")]
        )
        == 2
    )
    assert "--robotcar" in capsys.readouterr().err and not (tmp_path / "stage0").exists()


def test_each_baseline_takes_its_own_epochs_when_given_else_the_shared_ones(stage0: Path, dataset: Path) -> None:
    from train.baselines.jobs import baseline_job
    from train.config import load_config
    from train.variants import BASELINES

    cfg = load_config(
        "smoke", [f"init.stage0={stage0}", f"data.root={dataset}", "optim.epochs=3", "baseline_epochs.durn=7"]
    )
    assert baseline_job(cfg, BASELINES["DuRN"]).epochs == 7
    assert baseline_job(cfg, BASELINES["PReNet"]).epochs == 3
