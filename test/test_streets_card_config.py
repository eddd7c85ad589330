"""The streets card reports each stage's settings from that stage's own checkpoint."""

from pathlib import Path

import torch

from derain_seg_ros.runtime.checkpoint import FORMAT
from train.streets_card import as_trained, read_run


def _save(path: Path, train_config: dict, **extra: object) -> None:
    path.parent.mkdir(parents=True)
    torch.save({"format": FORMAT, "train_config": train_config, **extra}, path)


def _plain_run(tmp_path: Path) -> dict:
    """as_trained of a run whose stages all ran on one config, without a warm start."""
    base = {"stage0": {}, "optim": {}, "data": {"root": "x"}, "init": {}}
    run = tmp_path / "plain"
    for stage in ("stage0", "stage1", "stage2"):
        _save(run / stage / "last.pt", base)
    return as_trained(read_run(run))


def test_earlier_stages_come_from_their_own_checkpoints(tmp_path: Path) -> None:
    # Stage 2 ran with the config file's stage-0 and stage-1 values, which the earlier stages had overridden.
    stage2_view = {"stage0": {"lr": 0.01}, "optim": {"epochs": 8}, "stage2": {"lr": 5e-5}, "seed": 0}
    _save(tmp_path / "stage0" / "last.pt", {**stage2_view, "stage0": {"lr": 0.04}})
    _save(tmp_path / "stage1" / "last.pt", {**stage2_view, "optim": {"epochs": 16}})
    _save(tmp_path / "stage2" / "last.pt", stage2_view)

    cfg = as_trained(read_run(tmp_path))

    assert cfg["stage0"] == {"lr": 0.04}
    assert cfg["optim"] == {"epochs": 16}
    assert cfg["stage2"] == {"lr": 5e-5} and cfg["seed"] == 0


def test_a_warm_started_stage1_reports_its_own_data_and_the_run_it_started_from(tmp_path: Path) -> None:
    base = {"stage0": {"lr": 0.04}, "optim": {"epochs": 8}, "data": {"extra_roots": ["a"]}, "init": {}}
    earlier = tmp_path / "camvid" / "stage1" / "last.pt"
    _save(earlier, {**base, "optim": {"epochs": 16}})
    fine_tune = {"epochs": 5, "lr": 3e-4}
    _save(
        tmp_path / "stage1" / "last.pt",
        {**base, "optim": fine_tune, "data": {"extra_roots": ["a", "b"]}, "init": {"stage1": str(earlier)}},
    )
    _save(tmp_path / "stage0" / "last.pt", base)
    _save(tmp_path / "stage2" / "last.pt", base)

    cfg = as_trained(read_run(tmp_path))

    assert cfg["optim"] == fine_tune and cfg["stage1_data"] == {"extra_roots": ["a", "b"]}
    assert cfg["data"] == {"extra_roots": ["a"]}  # stage 2's own
    assert cfg["stage1_warm_start"] == {"from": str(earlier), "optim": {"epochs": 16}, "data": {"extra_roots": ["a"]}}
    plain = _plain_run(tmp_path)
    assert "stage1_warm_start" not in plain and "stage1_data" not in plain


def test_a_stage1_trained_with_its_own_loss_reports_it_and_how_it_was_trained(tmp_path: Path) -> None:
    base = {"stage0": {}, "optim": {}, "data": {}, "init": {}, "loss": {"semantic_weight": 1.0}}
    earlier = tmp_path / "pane" / "stage1" / "last.pt"
    _save(earlier, {**base, "loss": {"semantic_weight": 1.0, "stage1_semantic": True}})
    judged = {"semantic_weight": 1.0, "stage1_semantic": True}
    _save(tmp_path / "stage1" / "last.pt", {**base, "loss": judged, "init": {"stage1": str(earlier)}}, stage="A_C_OJT")
    _save(tmp_path / "stage0" / "last.pt", base)
    _save(tmp_path / "stage2" / "last.pt", base)

    cfg = as_trained(read_run(tmp_path))

    assert cfg["loss"] == {"semantic_weight": 1.0}  # stage 2's own
    assert cfg["stage1_loss"] == judged and cfg["stage1_trained_as"] == "A_C_OJT"
    assert cfg["stage1_warm_start"]["loss"] == judged  # a warm start's loss, where it differs from stage 2's
    plain = _plain_run(tmp_path)
    assert "stage1_loss" not in plain and "stage1_trained_as" not in plain


def test_the_selection_line_names_the_step_the_rule_and_the_score_to_two_decimals(tmp_path: Path) -> None:
    from train.streets_card import selection_line

    stage2 = {"stage2": {"select_metric": "miou", "psnr_guard_db": 0.1}}
    best = tmp_path / "stage2" / "best.pt"
    best.parent.mkdir(parents=True)
    torch.save(
        {"format": FORMAT, "train_config": stage2, "step": 262, "total_steps": 262, "best_score": 49.22443194353986},
        best,
    )
    line = selection_line(tmp_path)
    assert line.startswith("Stage 2 hands on `best.pt` from step 262 of 262, selected by held-out mIoU among")
    assert line.endswith("within 0.1 dB RGB PSNR of its start; score 49.22.")


def test_a_twice_fine_tuned_stage1_reports_the_whole_chain_and_its_wall_time(tmp_path: Path) -> None:
    from train.streets_card import stage1_wall_time, stage_minutes, warm_starts

    base = {"stage0": {}, "optim": {"epochs": 16}, "data": {"extra_roots": ["a"]}, "init": {}}
    camvid = tmp_path / "camvid" / "stage1" / "last.pt"
    videos = tmp_path / "videos" / "stage1" / "last.pt"
    _save(camvid, base, train_seconds=600.0)
    first = {**base, "optim": {"epochs": 5}, "data": {"extra_roots": ["a", "b"]}, "init": {"stage1": str(camvid)}}
    _save(videos, first, train_seconds=120.0)
    _save(tmp_path / "stage1" / "last.pt", {**first, "init": {"stage1": str(videos)}}, train_seconds=60.0)
    _save(tmp_path / "stage0" / "last.pt", base)
    _save(tmp_path / "stage2" / "last.pt", base)

    states = read_run(tmp_path)
    cfg = as_trained(states)

    outer = cfg["stage1_warm_start"]
    assert outer == {"from": str(videos), "optim": {"epochs": 5}, "data": {"extra_roots": ["a", "b"]},
                     "stage1_warm_start": {"from": str(camvid), "optim": {"epochs": 16}, "data": {"extra_roots": ["a"]}}}  # fmt: skip
    assert [s["train_config"]["optim"]["epochs"] for s in warm_starts(states)] == [5, 16]  # the latest first
    minutes = stage_minutes(states)
    assert minutes["stage1 warm start"] == 2.0 and minutes["stage1 warm start 2"] == 10.0
    assert stage1_wall_time(states) == "10.0 min (CamVid) + 2.0 min (fine-tune) + 1.0 min (fine-tune 2)"


def test_warm_starts_that_go_round_in_a_circle_are_refused(tmp_path: Path) -> None:
    import pytest

    from derain_seg_ros.runtime.checkpoint import CheckpointError

    base = {"stage0": {}, "optim": {}, "data": {}, "init": {}}
    a, b = tmp_path / "a" / "last.pt", tmp_path / "b" / "last.pt"
    _save(a, {**base, "init": {"stage1": str(b)}})
    _save(b, {**base, "init": {"stage1": str(a)}})
    _save(tmp_path / "stage1" / "last.pt", {**base, "init": {"stage1": str(a)}})
    _save(tmp_path / "stage0" / "last.pt", base)
    _save(tmp_path / "stage2" / "last.pt", base)
    with pytest.raises(CheckpointError, match="circle"):
        read_run(tmp_path)


def test_eight_warm_starts_are_read_and_a_ninth_is_refused(tmp_path: Path) -> None:
    import pytest

    from derain_seg_ros.runtime.checkpoint import CheckpointError
    from train.streets_card import MAX_WARM_STARTS, warm_starts

    base = {"stage0": {}, "optim": {}, "data": {}, "init": {}}

    def chain(root: Path, length: int) -> Path:
        earlier = None
        for n in range(length):
            path = root / f"run{n}" / "last.pt"
            _save(path, {**base, "optim": {"n": n}, "init": {"stage1": str(earlier)} if earlier else {}})
            earlier = path
        for stage in ("stage0", "stage2"):
            _save(root / stage / "last.pt", base)
        _save(root / "stage1" / "last.pt", {**base, "init": {"stage1": str(earlier)}})
        return root

    states = read_run(chain(tmp_path / "eight", MAX_WARM_STARTS))
    assert [s["train_config"]["optim"]["n"] for s in warm_starts(states)] == list(range(MAX_WARM_STARTS))[::-1]
    with pytest.raises(CheckpointError, match=f"more than {MAX_WARM_STARTS} warm starts"):
        read_run(chain(tmp_path / "nine", MAX_WARM_STARTS + 1))
