"""python train/run.py --stage 0|1|2 [--variant NAME] [--config embedded|paper|smoke|FILE] [--resume] [key=value ...]

Stage 0 trains DeepLabv3+ on clean images; stage 1 trains A + C (L_Att + L_D); stage 2 freezes
them and DeepLab and trains SRRN (L_R + w_H L_H). ``--variant`` runs a Table-1 training instead
(A/C, A/C+OJT, A/C/R, A/C/R+OJT, A/C/R+TJT) or one of the paper's baselines in front of the same
frozen DeepLab (AGAN, PReNet, DuRN, ICSC: their own losses, the GANs' discriminators stepped in
the same loop, the optim section's budget), or R + TJT behind one of them (DuRN+R+TJT: the baseline,
then stage 2's SRRN behind it, frozen). Without --config the embedded preset runs: its data
is synthesised on first use and missing earlier stages come from this run folder or, failing
that, from the shipped model. Multi-GPU: ``torchrun --nproc_per_node N train/run.py ...``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `train` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from derain_seg_ros.destinations import check_out_dir  # noqa: E402
from derain_seg_ros.errors import DerainSegError  # noqa: E402
from train import distributed  # noqa: E402
from train.baselines.jobs import baseline_job, refined_baseline_job, refined_name  # noqa: E402
from train.cli import script_parser  # noqa: E402
from train.config import DEFAULT_PRESET, ConfigError, TrainConfig, load_config  # noqa: E402
from train.datasets import train_dataset  # noqa: E402
from train.loop import fit  # noqa: E402
from train.run_folder import refuse_overwrite  # noqa: E402
from train.stages import pipeline_job, stage0_job  # noqa: E402
from train.variants import BASELINES, REFINED, STAGE2, VARIANTS, stage1  # noqa: E402

log = logging.getLogger("train")
SHIPPED_PRESETS = {"streets": "shipped", "embedded": "shipped-embedded"}  # model.preset -> its shipped model (init.*)


def resolve_inits(cfg: TrainConfig, names: tuple[str, ...]) -> None:
    """An unset init.stageK is this run's own stage K if it was trained, else the shipped model of the
    same preset (streets or embedded); other presets keep it unset and ask for it."""
    for name in names:
        if getattr(cfg.init, name) is None:
            own = Path(cfg.run.out) / name / "last.pt"
            if own.is_file():
                setattr(cfg.init, name, str(own))
            elif cfg.model.preset in SHIPPED_PRESETS:
                setattr(cfg.init, name, SHIPPED_PRESETS[cfg.model.preset])
            if getattr(cfg.init, name) is not None:
                log.info("init.%s = %s", name, getattr(cfg.init, name))


def run_stage(cfg: TrainConfig, stage: int, dist: distributed.DistInfo, resume: bool) -> Path:
    torch.manual_seed(cfg.seed)
    out = Path(cfg.run.out)
    if stage == 0:
        return fit(stage0_job(cfg), cfg, train_dataset(cfg, stage0=True), out / "stage0", dist, resume)
    dataset = train_dataset(cfg)  # first: a missing dataset is the likelier mistake
    return fit(
        pipeline_job(cfg, stage1(cfg.loss) if stage == 1 else STAGE2), cfg, dataset, out / f"stage{stage}", dist, resume
    )


def variant_folders(variant: str) -> list[str]:
    """The run sub-folders a variant trains in, in order (its checkpoint is the last one's last.pt)."""
    if variant in BASELINES:
        return [variant]
    if variant in REFINED:
        return [REFINED[variant].name, refined_name(REFINED[variant])]
    if variant in VARIANTS:
        return [stage.name for stage in VARIANTS[variant]]
    raise ConfigError(f"unknown variant {variant!r}; choose one of {[*VARIANTS, *BASELINES, *REFINED]}")


def run_variant(cfg: TrainConfig, variant: str, dist: distributed.DistInfo, resume: bool) -> Path:
    """The stages of one Table-1 variant, chained, or one baseline; returns the last stage's checkpoint."""
    variant_folders(variant)  # an unknown name fails before any data is made
    dataset = train_dataset(cfg)
    if variant in BASELINES or variant in REFINED:
        baseline = BASELINES.get(variant) or REFINED[variant]
        torch.manual_seed(cfg.seed)
        # The baseline's own folder, as its own row trains it: a run that has it resumes instead of retraining.
        out = Path(cfg.run.out) / baseline.name
        trained = fit(baseline_job(cfg, baseline), cfg, dataset, out, dist, resume)
        if variant in BASELINES:
            return trained
        torch.manual_seed(cfg.seed)
        out = Path(cfg.run.out) / refined_name(baseline)
        return fit(refined_baseline_job(cfg, baseline, trained), cfg, dataset, out, dist, resume)
    previous = None
    for stage in VARIANTS[variant]:
        torch.manual_seed(cfg.seed)
        # A folder per stage, not per variant: stage names are unique, A/C and A/C/R+TJT share
        # stage 1 (trained once in an ablation, which resumes), and the layout is --stage 1/2's.
        out = Path(cfg.run.out) / stage.name
        previous = fit(pipeline_job(cfg, stage, init_stage1=previous), cfg, dataset, out, dist, resume)
    assert previous is not None
    return previous


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(
        __doc__, "%(prog)s (--stage N | --variant NAME) [--config PRESET] [--resume] [key=value ...]"
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--stage", type=int, choices=(0, 1, 2), help="0: DeepLabv3+, 1: A + C, 2: SRRN")
    group.add_argument(
        "--variant",
        help=f"a Table-1 training, one of {list(VARIANTS)}, or a baseline, one of {list(BASELINES)}, or R + TJT behind one, one of {list(REFINED)}",
    )
    parser.add_argument("--config", default=DEFAULT_PRESET, help="preset name in train/configs or a YAML file")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last.pt")
    parser.add_argument("overrides", nargs="*", help="dotted key=value, e.g. optim.lr=1e-4 data.root=/data")
    args = parser.parse_intermixed_args(argv)  # overrides may come before or after flags
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dist = distributed.setup()
    cfg = None
    try:
        cfg = load_config(args.config, args.overrides)
        check_out_dir(cfg.run.out, "run.out")
        folders = [f"stage{args.stage}"] if args.variant is None else variant_folders(args.variant)
        for folder in folders:  # before any data is made or any stage trains
            refuse_overwrite(Path(cfg.run.out) / folder, args.resume)
        resolve_inits(cfg, {0: (), 2: ("stage0", "stage1")}.get(args.stage, ("stage0",)))
        path = (
            run_stage(cfg, args.stage, dist, args.resume)
            if args.variant is None
            else run_variant(cfg, args.variant, dist, args.resume)
        )
        if dist.main:
            log.info("checkpoint: %s", path)
    except (DerainSegError, FloatingPointError, OSError) as exc:  # the user's data, config or machine; a divergence
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = (
            f"the last checkpoint in {cfg.run.out} is kept; rerun with --resume to continue"
            if cfg
            else "nothing was written"
        )
        print(f"interrupted: {kept}", file=sys.stderr)
        return 130
    finally:
        distributed.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
