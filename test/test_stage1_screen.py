"""train/screen_stage1.py: a stage-1 candidate's A and C behind a finished model, scored set by set on the
held-out items stage 2 selects on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from train_fixtures import tiny_dataset

from derain_seg_ros.nets.config import PipelineConfig, with_settings
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import CheckpointError, save_checkpoint
from train.config import load_config
from train.datasets import held_out_sets, validation_items
from train.screen_stage1 import main, with_stage1

TRUSTED = with_settings(
    PipelineConfig.small(), {"coarse.residual": True, "coarse.gate": True, "coarse.tone": True, "coarse.trust": True}
)


def _pipeline(seed: int) -> DerainSegPipeline:
    """Seeded weights, C's and the trust head's last layers moved off zero so every part acts."""
    torch.manual_seed(seed)
    pipeline = DerainSegPipeline.from_config(TRUSTED).eval()
    with torch.no_grad():
        for name, value in pipeline.named_parameters():
            if name.startswith(("coarse.generator.head", "coarse.trust")):
                value.normal_(0, 0.05)
    return pipeline


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Overrides naming two labelled sets rendered over the same scenes (as two rain kinds are), 2 held out."""
    main_root, extra = tiny_dataset(tmp_path_factory, 6), tiny_dataset(tmp_path_factory, 6)
    return [f"data.root={main_root}", f"data.extra_roots=[{extra}]", "data.val_count=2"]


def test_held_out_sets_are_the_selections_items_set_by_set(two_sets: list[str]) -> None:
    cfg = load_config("smoke", two_sets)
    sets = held_out_sets(cfg)
    assert [name for name, _ in sets] == [Path(cfg.data.root).name, Path(cfg.data.extra_roots[0]).name, "dry"]
    assert [len(t) for _, t in sets] == [2, 2, 2]  # the same two scenes held out of both sets; each clean frame once
    flat = [t for _, triples in sets for t in triples]
    items = validation_items(cfg)
    assert len(flat) == len(items)
    for a, b in zip(flat, items, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    for rainy, clean, _ in sets[-1][1]:
        assert np.array_equal(rainy, clean)
    assert not np.array_equal(sets[0][1][0][0], sets[0][1][0][1])  # a rain set's input is rainy


def test_a_candidates_a_and_c_go_in_and_the_finished_trust_head_srrn_and_segmenter_stay(tmp_path: Path) -> None:
    base, candidate = _pipeline(0), _pipeline(1)
    save_checkpoint(tmp_path / "stage1.pt", candidate)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with_stage1(base, tmp_path / "stage1.pt")
    after, theirs = base.state_dict(), candidate.state_dict()
    took = [k for k in after if k.startswith(("attention.", "coarse.")) and not k.startswith("coarse.trust.")]
    kept = [k for k in after if k not in took]
    assert any(k.startswith("coarse.trust.") for k in kept) and any(k.startswith("srrn.") for k in kept)
    assert all(torch.equal(after[k], theirs[k]) for k in took)
    assert all(torch.equal(after[k], before[k]) for k in kept)
    assert not torch.equal(before["coarse.trust.head.2.bias"], theirs["coarse.trust.head.2.bias"])  # a real choice


def test_the_screen_scores_each_set_and_a_new_a_and_c_change_the_scores(two_sets: list[str], tmp_path: Path) -> None:
    base = save_checkpoint(tmp_path / "model.pt", _pipeline(0))
    other = save_checkpoint(tmp_path / "other.pt", _pipeline(1))
    args = ["--checkpoint", str(base), "--config", "smoke", *two_sets]

    def rows(*extra: str) -> list[dict]:
        out = tmp_path / "rows.json"
        assert main([*args, "--json", str(out), *extra]) == 0
        return json.loads(out.read_text())

    alone = rows()
    assert [r["frames"] for r in alone] == [2, 2, 2]
    assert all(r["miou"] is not None and 0 <= r["miou"] <= 100 for r in alone)
    assert rows("--candidate", str(base)) == alone  # its own A and C: nothing changes
    moved = rows("--candidate", str(other))
    assert [r["set"] for r in moved] == [r["set"] for r in alone]
    assert any(abs(m["psnr_db"] - a["psnr_db"]) > 1e-3 for m, a in zip(moved, alone, strict=True))


def test_a_missing_or_foreign_candidate_is_one_line_and_exit_1(
    two_sets: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = save_checkpoint(tmp_path / "model.pt", _pipeline(0))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    for candidate in (tmp_path / "missing.pt", tmp_path / "junk.pt"):
        assert main(["--checkpoint", str(base), "--candidate", str(candidate), "--config", "smoke", *two_sets]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and candidate.name in err
    with pytest.raises(CheckpointError):
        with_stage1(_pipeline(0), tmp_path / "junk.pt")
