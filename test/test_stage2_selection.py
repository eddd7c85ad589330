"""Stage 2 is selected by what it is for: held-out mIoU under a PSNR guard (the identity no longer always wins)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.segment_only import segment
from train.validation import GUARD_PSNR_CAP_DB, GuardedMiou, guard_psnr, guarded_score


def test_guarded_score_keeps_miou_within_the_guard_and_rejects_beyond() -> None:
    assert guarded_score(60.0, 30.0, 30.0, 0.1) == 60.0
    assert guarded_score(61.0, 29.95, 30.0, 0.1) == 61.0  # a small PSNR cost inside the guard
    assert guarded_score(70.0, 29.8, 30.0, 0.1) == -math.inf  # more than the guard: never a candidate


def test_the_guard_counts_a_frame_up_to_its_cap_so_a_bit_exact_dry_start_does_not_veto_every_change() -> None:
    clean = np.full((16, 16, 3), 100, np.uint8)
    touched = clean.copy()
    touched[0, 0, 0] += 1  # one grey level on one value: about 77 dB, invisible
    assert guard_psnr(clean, clean) == guard_psnr(touched, clean) == GUARD_PSNR_CAP_DB
    visible = clean + 3  # 3 levels everywhere: 38.6 dB, counted in full
    assert guard_psnr(visible, clean) == pytest.approx(20 * math.log10(255 / 3), abs=1e-6)
    # a start that leaves one dry frame bit-exact and a candidate that touches it, each beside a 30 dB rainy frame
    start, candidate = (30.0 + guard_psnr(clean, clean)) / 2, (30.0 + guard_psnr(touched, clean)) / 2
    assert guarded_score(61.0, candidate, start, 0.1) == 61.0


def _triples(pipeline: DerainSegPipeline, n: int = 3) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        clean = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
        rainy = np.clip(clean.astype(int) + rng.integers(0, 40, clean.shape), 0, 255).astype(np.uint8)
        out.append((rainy, clean, segment(pipeline, clean)))  # the 'good' segmenter's labels are the truth
    return out


def test_a_stage_that_raises_miou_at_equal_psnr_wins_and_one_that_costs_psnr_does_not() -> None:
    torch.manual_seed(0)
    good = DerainSegPipeline.from_config(PipelineConfig.small()).eval()
    triples = _triples(good)
    pipeline = copy.deepcopy(good)
    with torch.no_grad():  # the start: a worse segmenter, the same (identity) derainer
        for p in pipeline.deeplab.classifier.parameters():
            p.add_(0.5 * torch.randn_like(p))
    score = GuardedMiou(pipeline, triples, guard_db=0.1)
    start = score()
    pipeline.deeplab.load_state_dict(good.deeplab.state_dict())  # better labels, PSNR unchanged
    better = score()
    assert math.isfinite(start) and better > start
    with torch.no_grad():  # now the derainer costs PSNR (much more than 0.1 dB)
        for p in pipeline.srrn.parameters():
            p.add_(0.2 * torch.randn_like(p))
    assert score() == -math.inf


def test_miou_selection_needs_labels() -> None:
    pipeline = DerainSegPipeline.from_config(PipelineConfig.small()).eval()
    triples = [(t[0], t[1], np.full_like(t[2], 255)) for t in _triples(pipeline, 1)]
    with pytest.raises(ValueError, match="labelled held-out items"):
        GuardedMiou(pipeline, triples, guard_db=0.1)
