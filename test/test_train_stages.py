"""Training: smoke stages learn and checkpoint, stage 2 freezes exactly, resume is exact, DDP agrees,
evaluation and the Table-1 report."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from train_fixtures import FAST, tiny_dataset, two_rank_digests

from derain_seg_ros.metrics import ConfusionMatrix
from derain_seg_ros.runtime.checkpoint import load_pipeline, read_checkpoint
from derain_seg_ros.runtime.segment_only import segment
from train.ablation import main as ablation_main
from train.evaluate import evaluate
from train.run import main as run_main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_dataset(tmp_path_factory, 14)


def losses(run_dir: Path) -> list[float]:
    with (run_dir / "log.csv").open() as f:
        return [float(row["loss_total"]) for row in csv.DictReader(f)]


def stage_args(stage: int, data: Path, out: Path, *extra: str) -> list[str]:
    """train/run.py's arguments for one smoke-config stage on ``data`` into ``out``."""
    return ["--stage", str(stage), "--config", "smoke", f"data.root={data}", f"run.out={out}", *FAST, *extra]


def train(stage: int, data: Path, out: Path, *extra: str) -> Path:
    assert run_main(stage_args(stage, data, out, *extra)) == 0
    return out / f"stage{stage}" / "last.pt"


@pytest.fixture(scope="module")
def trained(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    s0 = train(0, dataset, out, "stage0.epochs=8", "stage0.steps_per_epoch=5")
    s1 = train(1, dataset, out, f"init.stage0={s0}", "optim.epochs=6", "optim.steps_per_epoch=5")
    s2 = train(2, dataset, out, f"init.stage0={s0}", f"init.stage1={s1}", "optim.epochs=4", "optim.steps_per_epoch=5")
    return {"out": out, "stage0": s0, "stage1": s1, "stage2": s2}


@pytest.mark.parametrize("stage", ["stage0", "stage1", "stage2"])
def test_each_smoke_stage_lowers_its_loss_and_writes_a_loadable_checkpoint(
    trained: dict[str, Path], stage: str
) -> None:
    values = losses(trained["out"] / stage)
    assert sum(values[-4:]) / 4 < sum(values[:4]) / 4
    pipeline, state = load_pipeline(trained[stage])
    assert state["stage"] == stage and state["done"] is True
    assert pipeline.cfg.num_srrb == (0 if stage == "stage1" else 2)


def test_stage2_leaves_attention_coarse_and_deeplab_bit_identical(trained: dict[str, Path]) -> None:
    before = {
        **read_checkpoint(trained["stage1"])["model"],
        **{k: v for k, v in read_checkpoint(trained["stage0"])["model"].items() if k.startswith("deeplab.")},
    }
    after = read_checkpoint(trained["stage2"])["model"]
    frozen = [k for k in before if k.split(".")[0] in ("attention", "coarse", "deeplab")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # buffers (BN statistics) included
    s2_start = read_checkpoint(trained["stage2"])["model"]
    assert any(k.startswith("srrn.") for k in s2_start)


def test_stage2_without_stage1_checkpoint_is_a_clear_error(trained: dict[str, Path], dataset: Path, capsys) -> None:
    code = run_main(
        [
            "--stage",
            "2",
            "--config",
            "smoke",
            f"data.root={dataset}",
            f"run.out={trained['out'] / 'x'}",
            f"init.stage0={trained['stage0']}",
            *FAST,
        ]
    )
    assert code == 2 and "init.stage1" in capsys.readouterr().err


def test_missing_dataset_and_unknown_key_are_clear_errors(tmp_path: Path, capsys) -> None:
    assert run_main(["--stage", "0", "--config", "smoke", f"data.root={tmp_path / 'none'}"]) == 2
    assert "derain-seg synth" in capsys.readouterr().err
    assert run_main(["--stage", "0", "--config", "smoke", "optim.lrate=1"]) == 2
    assert "did you mean optim.lr" in capsys.readouterr().err


def test_kill_and_resume_equals_an_uninterrupted_run(dataset: Path, trained: dict[str, Path], tmp_path: Path) -> None:
    common = [f"init.stage0={trained['stage0']}", "optim.epochs=2", "optim.steps_per_epoch=4", "optim.milestones=[0.5]"]
    whole = train(1, dataset, tmp_path / "whole", *common)
    stopped = train(1, dataset, tmp_path / "resumed", *common, "run.max_steps=3")  # killed mid-epoch 0
    assert read_checkpoint(stopped)["step"] == 3 and read_checkpoint(stopped)["done"] is False
    stopped_seconds = read_checkpoint(stopped)["train_seconds"]
    resumed = train(1, dataset, tmp_path / "resumed", *common, "--resume")
    a, b = read_checkpoint(whole), read_checkpoint(resumed)
    assert b["step"] == a["step"] == 8
    assert b["train_seconds"] > stopped_seconds > 0  # a resumed run adds to its time, not restarts it
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]


def test_two_process_ddp_ranks_end_identical(dataset: Path, trained: dict[str, Path], tmp_path: Path) -> None:
    digests = two_rank_digests(
        [
            "--stage",
            "1",
            "--config",
            "smoke",
            f"data.root={dataset}",
            f"run.out={tmp_path}",
            f"init.stage0={trained['stage0']}",
            "optim.epochs=1",
            "optim.steps_per_epoch=3",
            *FAST,
        ]
    )["weights"]
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"]
    assert read_checkpoint(tmp_path / "stage1" / "last.pt")["step"] == 3


def test_clean_against_clean_is_perfect_and_miou_is_the_segmenters_own(trained: dict[str, Path], dataset: Path) -> None:
    pipeline, _ = load_pipeline(trained["stage2"])
    result = evaluate(pipeline, dataset, "clean", progress=False)
    assert result["psnr_y"] == result["psnr_cap_db"] and result["ssim_rgb"] == pytest.approx(1.0)
    from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset

    confusion = ConfusionMatrix()
    for item in RaindropCityscapesDataset(dataset, "test"):
        confusion.update(segment(pipeline.eval(), item["clean"].numpy()), item["label"].numpy())
    assert result["miou"] == pytest.approx(100 * confusion.miou())


def test_ablation_report_has_the_five_variants_and_the_other_c(
    dataset: Path, trained: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    shutil.copytree(trained["stage0"].parent, tmp_path / "stage0")  # a finished stage 0 is resumed, not retrained
    args = [
        "--config",
        "smoke",
        "--out",
        str(tmp_path),
        f"data.root={dataset}",
        *FAST,
        "stage0.epochs=8",
        "stage0.steps_per_epoch=5",
        "optim.epochs=1",
        "optim.steps_per_epoch=2",
        "stage2.epochs=1",
        "stage2.steps_per_epoch=2",
        "--results",
        str(tmp_path / "published" / "RESULTS.md"),
    ]
    assert ablation_main(args) == 0
    report = (tmp_path / "REPORT.md").read_text()
    assert "`data.root=" in report and "optim.steps_per_epoch=2" in report  # the budget is part of the table
    header = next(line for line in report.splitlines() if line.startswith("| |"))
    for column in (
        "Rainy",
        "A/C",
        "A/C+OJT",
        "A/C/R",
        "A/C/R+OJT",
        "A/C/R+TJT",
        "A/C, residual C",
        "Clean (upper bound)",
    ):
        assert f"| {column} |" in header
    for row in (
        "| mIoU (%) |",
        "| images worse than input (RGB PSNR) |",
        "| clean in: PSNR (RGB, dB) mean |",
        "| frames/s (this CPU, batch 1) |",
        "| training wall time (min) |",
    ):
        assert row in report
    assert (tmp_path / "figure.png").stat().st_size > 5000
    assert (tmp_path / "published" / "results_figure.png").read_bytes() == (tmp_path / "figure.png").read_bytes()
    assert "results_figure.png" in (tmp_path / "published" / "RESULTS.md").read_text()
    assert len(losses(tmp_path / "stage0")) == len(losses(trained["stage0"].parent))  # stage 0 not trained again
    assert len(losses(tmp_path / "stage1")) == 2  # A/C's stage 1 is A/C/R+TJT's: trained once (2 steps), not twice
    assert read_checkpoint(tmp_path / "residual_C" / "stage1" / "last.pt")["config"]["coarse"]["residual"] is True
    assert (
        read_checkpoint(tmp_path / "stage1" / "last.pt")["config"]["coarse"]["residual"] is False
    )  # smoke: the authors' C


def test_resuming_with_other_networks_names_what_changed_and_keeps_the_checkpoint(
    dataset: Path, trained: dict[str, Path], tmp_path: Path, capsys
) -> None:
    common = stage_args(
        1,
        dataset,
        tmp_path,
        f"init.stage0={trained['stage0']}",
        "optim.epochs=1",
        "optim.steps_per_epoch=4",
    )
    assert run_main([*common, "run.max_steps=1"]) == 0
    before = read_checkpoint(tmp_path / "stage1" / "last.pt")
    assert run_main([*common, "--resume", "model.coarse.residual=true"]) == 2
    err = capsys.readouterr().err
    assert "coarse.residual differ" in err and "start a new run.out" in err
    after = read_checkpoint(tmp_path / "stage1" / "last.pt")
    assert after["step"] == 1 and all(torch.equal(before["model"][k], after["model"][k]) for k in before["model"])


def test_a_diverging_run_stops_with_a_clear_error_and_keeps_its_last_checkpoint(
    dataset: Path, trained: dict[str, Path], tmp_path: Path, capsys
) -> None:
    common = stage_args(
        1,
        dataset,
        tmp_path,
        f"init.stage0={trained['stage0']}",
        "optim.epochs=3",
        "optim.steps_per_epoch=2",
    )
    assert run_main([*common, "run.max_steps=2"]) == 0  # one good epoch on disk
    before = read_checkpoint(tmp_path / "stage1" / "last.pt")
    assert run_main([*common, "--resume", "optim.lr=1e30"]) == 2  # Adam steps of 1e30 overflow within a step or two
    err = capsys.readouterr().err
    assert "loss became" in err and "checkpoint of step 2 is kept" in err
    after = read_checkpoint(tmp_path / "stage1" / "last.pt")
    assert after["step"] == 2 and all(torch.equal(before["model"][k], after["model"][k]) for k in before["model"])


def test_evaluate_command_writes_json_and_markdown(trained: dict[str, Path], dataset: Path, tmp_path: Path) -> None:
    import json

    from train.evaluate import main as evaluate_main

    assert (
        evaluate_main(
            [
                "--checkpoint",
                str(trained["stage2"]),
                "--data",
                str(dataset),
                "--input",
                "rainy",
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert result["mode"] == "rainy" and result["images"] == 2 and 0 < result["psnr_y"] < 100
    assert "| PSNR (Y, dB) |" in (tmp_path / "eval" / "metrics.md").read_text()


def test_first_steps_of_stage2_do_not_raise_the_image_loss_above_stage1s(
    trained: dict[str, Path], dataset: Path
) -> None:
    """The SRRN starts as the identity; with its own rate and warm-up it must leave it only as fast
    as that helps: on a fixed batch, in eval mode (as deployed), L_D never rises above stage 1's."""
    from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
    from derain_seg_ros.losses import derain_loss
    from derain_seg_ros.runtime.preprocess import to_float_nchw
    from train.config import load_config
    from train.stages import pipeline_job
    from train.variants import STAGE2

    cfg = load_config("smoke", [f"init.stage0={trained['stage0']}", f"init.stage1={trained['stage1']}"])
    job = pipeline_job(cfg, STAGE2)
    items = [RaindropCityscapesDataset(dataset, "train", crop=(32, 64), seed=1)[i] for i in range(4)]
    batch = {k: torch.stack([it[k] for it in items]) for k in ("rainy", "clean", "rain_mask", "label")}
    rainy, clean = to_float_nchw(batch["rainy"]), to_float_nchw(batch["clean"])
    params = [p for p in job.pipeline.srrn.parameters()]
    job.pipeline.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optimizer = job.optimizer_fn(params)
    total = 4 * 6  # the smoke preset's stage 2: 4 epochs of 6 steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: job.lr_factor(s, 6, total))

    def image_loss() -> float:
        job.pipeline.eval()
        with torch.no_grad():
            out = job.pipeline(rainy, segment=False)
            return float(derain_loss(out["derained"], clean))

    with torch.no_grad():
        stage1_left = float(derain_loss(job.pipeline.eval()(rainy, segment=False)["coarse"].clamp(0, 1), clean))
    assert image_loss() == pytest.approx(stage1_left, abs=1e-6)  # a fresh SRRN is the identity
    for _ in range(8):
        job.pipeline.train()
        for module in job.frozen:
            module.eval()
        loss, _ = job.step_fn(job.pipeline, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        assert image_loss() <= stage1_left + 1e-4


def test_selection_on_held_out_items_hands_on_the_start_when_training_only_hurts(
    trained: dict[str, Path], dataset: Path, tmp_path: Path
) -> None:
    """Stage 2 starts at the identity; with an absurd rate every epoch scores worse on the held-out
    items, so best.pt must be the starting point: the stage hands on stage 1's output unchanged."""
    common = stage_args(
        2,
        dataset,
        tmp_path,
        f"init.stage0={trained['stage0']}",
        f"init.stage1={trained['stage1']}",
        "data.val_count=2",
        "stage2.select_best=true",
        "stage2.epochs=2",
        "stage2.steps_per_epoch=2",
        "stage2.warmup=0",
        "stage2.lr=0.5",
    )
    assert run_main(common) == 0
    best, last = read_checkpoint(tmp_path / "stage2" / "best.pt"), read_checkpoint(tmp_path / "stage2" / "last.pt")
    assert best["step"] == 0 and last["step"] == 4 and last["best_score"] == best["best_score"]
    pipeline, _ = load_pipeline(tmp_path / "stage2" / "best.pt")
    pipeline.eval()
    x = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        out = pipeline(x, segment=False)
    assert torch.equal(out["derained"], out["coarse"].clamp(0, 1))  # the SRRN is still the identity


def test_held_out_items_never_train(dataset: Path) -> None:
    from train.config import load_config
    from train.datasets import train_dataset, validation_samples

    cfg = load_config("smoke", [f"data.root={dataset}", "data.val_count=3", "data.crop=[32,64]"])
    held_out = validation_samples(cfg)
    training = train_dataset(cfg)
    full = load_config("smoke", [f"data.root={dataset}", "data.crop=[32,64]"])
    assert len(held_out) == 6 and len(training) == len(train_dataset(full)) - 3  # 3 rainy pairs + the same 3 dry
    names = {training[i]["name"] for i in range(len(training))}
    from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset

    every = RaindropCityscapesDataset(dataset, "train")
    assert not names & {every[i]["name"] for i in range(len(every) - 3, len(every))}


def test_a_checkpoint_of_other_networks_is_refused_in_one_line_naming_both_presets(
    trained: dict[str, Path], dataset: Path, tmp_path: Path, capsys
) -> None:
    code = run_main(
        [
            "--stage",
            "1",
            "--config",
            "embedded",
            f"data.root={dataset}",
            f"run.out={tmp_path}",
            *FAST,
            "data.val_count=2",
            f"init.stage0={trained['stage0']}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'small' networks" in err and "'embedded'" in err


def test_a_bug_keeps_its_traceback_while_user_errors_are_one_line(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    import train.run
    from train.config import ConfigError

    assert not issubclass(ConfigError, KeyError)

    def broken(*args, **kwargs):
        raise ValueError("a bug in the package, not the user's input")

    monkeypatch.setattr(train.run, "run_stage", broken)
    with pytest.raises(ValueError, match="a bug in the package"):
        run_main(["--stage", "0", "--config", "smoke", f"data.root={dataset}", f"run.out={tmp_path}"])


def test_training_without_tensorboard_logs_to_csv_and_says_which_extra(
    dataset: Path, trained: dict[str, Path], tmp_path: Path, monkeypatch, caplog
) -> None:
    import logging
    import sys as _sys

    monkeypatch.setitem(_sys.modules, "torch.utils.tensorboard", None)  # as if the train extra were not installed
    with caplog.at_level(logging.INFO, logger="train"):
        train(1, dataset, tmp_path, f"init.stage0={trained['stage0']}", "optim.epochs=1", "optim.steps_per_epoch=2")
    assert len(losses(tmp_path / "stage1")) == 2 and not (tmp_path / "stage1" / "tb").exists()
    assert "derain_seg_ros[train]" in caplog.text


def test_evaluate_scores_robotcar_pairs_with_pseudo_labels_and_dry_photos_against_themselves(
    trained: dict[str, Path], dataset: Path, tmp_path: Path
) -> None:
    import json

    import cv2

    from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
    from train.evaluate import main as evaluate_main

    robotcar = tmp_path / "robotcar"
    for side in ("left", "right"):
        (robotcar / side).mkdir(parents=True)
    for i, item in enumerate(RaindropCityscapesDataset(dataset, "test")):
        stamp = 1_418_381_798_000_000 + i * 50_000  # RobotCar names frames by UNIX microseconds
        cv2.imwrite(str(robotcar / "right" / f"right_{stamp}.png"), item["rainy"].numpy()[..., ::-1])  # the wet lens
        cv2.imwrite(str(robotcar / "left" / f"left_{stamp}.png"), item["clean"].numpy()[..., ::-1])
    assert (
        evaluate_main(
            ["--checkpoint", str(trained["stage2"]), "--robotcar", str(robotcar), "--out", str(tmp_path / "rc")]
        )
        == 0
    )
    result = json.loads((tmp_path / "rc" / "metrics.json").read_text())
    assert result["pseudo_labels"] is True and result["images"] == 2 and 0 < result["psnr_rgb"] < 100
    assert (
        evaluate_main(
            [
                "--checkpoint",
                str(trained["stage2"]),
                "--robotcar",
                str(robotcar),
                "--input",
                "clean",
                "--out",
                str(tmp_path / "rc_clean"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "rc_clean" / "metrics.json").read_text())["miou"] == pytest.approx(
        100.0
    )  # pseudo labels ARE the dry lens's
    assert (
        evaluate_main(
            [
                "--checkpoint",
                str(trained["stage2"]),
                "--dry-folder",
                str(robotcar / "left"),
                "--size",
                "32x64",
                "--out",
                str(tmp_path / "dry"),
            ]
        )
        == 0
    )
    dry = json.loads((tmp_path / "dry" / "metrics.json").read_text())
    assert dry["images"] == 2 and dry["psnr_rgb_min"] <= dry["psnr_rgb_mean"] and dry["size"] == [32, 64]


def test_ablation_overrides_after_rows_are_applied_and_unknown_rows_named(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no_such_data"
    # Written after --rows, the override must still reach the config: the run fails on *this* folder.
    assert ablation_main(["--config", "smoke", "--out", str(tmp_path), "--rows", "A/C", f"data.root={missing}"]) == 2
    assert str(missing) in capsys.readouterr().err
    assert ablation_main(["--config", "smoke", "--out", str(tmp_path), "--rows", "A/C", "A/C/Rx"]) == 2
    err = capsys.readouterr().err
    assert "A/C/Rx" in err and "A/C/R+TJT" in err  # names the typo and the rows there are
    assert not (tmp_path / "stage0").exists()  # refused before any training


def test_stage1_semantic_makes_stage1_the_ojt_variant_bit_for_bit(
    trained: dict[str, Path], dataset: Path, tmp_path: Path
) -> None:
    """``loss.stage1_semantic`` (the streets recipe's last fine-tune) trains A and C as ``--variant A/C+OJT`` does:
    L_H on C's output changes what plain stage 1 would learn."""
    warm = [f"init.stage0={trained['stage0']}", f"init.stage1={trained['stage1']}"]
    short = ["optim.epochs=1", "optim.steps_per_epoch=2"]
    judged = train(1, dataset, tmp_path / "judged", *warm, *short, "loss.stage1_semantic=true")
    plain = train(1, dataset, tmp_path / "plain", *warm, *short)
    variant = ["--variant", "A/C+OJT", *stage_args(1, dataset, tmp_path / "ojt", *warm, *short)[2:]]
    assert run_main(variant) == 0
    a, b, c = (read_checkpoint(p)["model"] for p in (judged, tmp_path / "ojt" / "A_C_OJT" / "last.pt", plain))
    keys = [k for k in a if k.split(".")[0] in ("attention", "coarse")]
    assert keys and all(torch.equal(a[k], b[k]) for k in keys)
    assert not all(torch.equal(a[k], c[k]) for k in keys)
    with (tmp_path / "judged" / "stage1" / "log.csv").open() as f:
        assert all(float(row["loss_semantic"]) > 0 for row in csv.DictReader(f))


def test_stage1_with_init_stage1_starts_from_those_weights_and_without_it_from_scratch(
    trained: dict[str, Path],
) -> None:
    """A warm start (the streets model's fine-tune on dash-cam footage) continues the given A and C."""
    from train.config import load_config
    from train.stages import pipeline_job
    from train.variants import STAGE1

    given = read_checkpoint(trained["stage1"])["model"]
    names = [k for k in given if k.split(".")[0] in ("attention", "coarse")]

    def start(*overrides: str) -> dict[str, torch.Tensor]:
        cfg = load_config("smoke", [f"init.stage0={trained['stage0']}", *overrides])
        return pipeline_job(cfg, STAGE1).pipeline.state_dict()

    warm, fresh = start(f"init.stage1={trained['stage1']}"), start()
    assert names and all(torch.equal(warm[k], given[k]) for k in names)
    assert not all(torch.equal(fresh[k], given[k]) for k in names)
