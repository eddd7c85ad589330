"""python train/table1_report.py --run RUN --variants DIR --eval-data NAME=ROOT ... --out DIR [--limit N]

Table 1 of the paper scored on several rain sets at once, for a table whose rows were trained at one
budget from a finished run (scripts/table1_streets.sh): A/C is RUN's stage 1, A/C/R+TJT what RUN's
stage 2 handed on, and A/C+OJT, A/C/R, A/C/R+OJT the variants trained in DIR from that same A and C
(``train/run.py --variant ... init.stage1=RUN/stage1/last.pt``); where DIR also holds R + TJT behind a
baseline (``--variant DuRN+R+TJT``), the baseline and the refined baseline are two more rows. Each set
(e.g. CamVid val under the car, paper and pane rain) gets the ablation's table (rainy input, every row,
clean), then one table of the means over the sets with the paper's Table 1 beside it, and the paper's
claims checked on those means. Writes REPORT.md and results.json into ``--out``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derain_seg_ros.errors import DerainSegError  # noqa: E402
from derain_seg_ros.fileio import atomic_write_bytes  # noqa: E402
from derain_seg_ros.runtime.checkpoint import read_checkpoint  # noqa: E402
from derain_seg_ros.validate import POSITIVE_INT  # noqa: E402
from train.ablation import score  # noqa: E402
from train.cli import script_parser  # noqa: E402
from train.evaluate import markdown  # noqa: E402
from train.loop import stage_result  # noqa: E402
from train.provenance import machine  # noqa: E402
from train.run import variant_folders  # noqa: E402
from train.streets_report import name_path_pairs  # noqa: E402
from train.variants import REFINED  # noqa: E402

PAPER = {  # Table 1 on Raindrop-Cityscapes test (docs/paper.md): PSNR (Y, dB), mIoU (%)
    "Rainy": (23.23, 34.50),
    "A/C": (33.88, 66.60),
    "A/C+OJT": (28.84, 67.54),
    "A/C/R": (34.61, 66.79),
    "A/C/R+OJT": (31.26, 67.50),
    "A/C/R+TJT": (34.57, 67.60),
    "DuRN": (31.88, 66.37),  # the authors' own result tables (issue 24), not Table 1
    "DuRN+R+TJT": (37.38, 68.35),
}
TABLE1 = ("A/C", "A/C+OJT", "A/C/R", "A/C/R+OJT", "A/C/R+TJT")
TRAINED_IN_VARIANTS = ("A/C+OJT", "A/C/R", "A/C/R+OJT")
MEAN_KEYS = ("psnr_y", "psnr_rgb", "ssim_rgb", "miou", "worse_than_input", "clean_in_psnr_rgb", "clean_in_miou")


def rows(run: Path, variants: Path) -> tuple[dict[str, tuple[Path, float]], dict[str, str]]:
    """Each row's checkpoint and training seconds since A/C (A/C itself: 0), and what each trained row's
    budget was (epochs, rate, minutes, from its checkpoint's own config); each checkpoint read once."""
    found: dict[str, Path] = {"A/C": run / "stage1" / "last.pt"}
    for name in TRAINED_IN_VARIANTS:
        found[name] = variants / variant_folders(name)[-1] / "last.pt"
    found["A/C/R+TJT"] = stage_result(run / "stage2")
    found.update(refined_rows(variants))
    missing = [f"{name} ({path})" for name, path in found.items() if not path.is_file()]
    if missing:
        raise DerainSegError(f"no checkpoint for {', '.join(missing)}: train them first (scripts/table1_streets.sh)")
    trained: dict[str, tuple[Path, float]] = {"A/C": (found["A/C"], 0.0)}
    budgets: dict[str, str] = {}
    for name, path in list(found.items())[1:]:
        state = read_checkpoint(path)
        seconds = float(state.get("train_seconds", 0.0))
        stage2 = name == "A/C/R+TJT" or name in REFINED  # the rows whose last stage is stage 2
        section = state.get("train_config", {}).get("stage2" if stage2 else "optim", {})
        trained[name] = (path, seconds)
        budgets[name] = (
            f"{name} {section.get('epochs', '?')} epochs at lr {section.get('lr', '?')} ({seconds / 60:.1f} min)"
        )
    return trained, budgets


def refined_rows(variants: Path) -> dict[str, Path]:
    """Each baseline with R + TJT trained behind it in ``variants``: its own row and the refined one's."""
    found: dict[str, Path] = {}
    for name, baseline in REFINED.items():
        base_folder, refined_folder = variant_folders(name)
        base, refined = variants / base_folder / "last.pt", stage_result(variants / refined_folder)
        if base.is_file() and refined.is_file():
            found[baseline.name], found[name] = base, refined
    return found


def means(per_set: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Per column, each metric's mean over the sets (frames worse: the sum)."""
    columns = next(iter(per_set.values()))
    out: dict[str, dict[str, float]] = {}
    for column in columns:
        values: dict[str, float] = {}
        for key in MEAN_KEYS:
            got = [results[column][key] for results in per_set.values() if results[column].get(key) is not None]
            if got:
                values[key] = sum(got) if key == "worse_than_input" else sum(got) / len(got)
        out[column] = values
    return out


def claims(mean: dict[str, dict[str, float]]) -> list[str]:
    """The paper's shape (docs/paper.md) and issue 24's targets, checked on the means over the sets."""
    tjt, ojt, ac, acr = mean["A/C/R+TJT"], mean["A/C/R+OJT"], mean["A/C"], mean["A/C/R"]

    def line(ok: bool, text: str) -> str:
        return f"- {'holds' if ok else 'does not hold'}: {text}"

    checked = [
        line(
            acr["psnr_rgb"] > ac["psnr_rgb"],
            f"R helps PSNR (A/C/R {acr['psnr_rgb']:.2f} vs A/C {ac['psnr_rgb']:.2f} dB)",
        ),
        line(
            mean["A/C+OJT"]["psnr_rgb"] < ac["psnr_rgb"] and ojt["psnr_rgb"] < acr["psnr_rgb"],
            f"OJT costs PSNR (A/C+OJT {mean['A/C+OJT']['psnr_rgb']:.2f} vs A/C {ac['psnr_rgb']:.2f}; "
            f"A/C/R+OJT {ojt['psnr_rgb']:.2f} vs A/C/R {acr['psnr_rgb']:.2f} dB)",
        ),
        line(
            tjt["psnr_rgb"] >= ojt["psnr_rgb"],
            f"A/C/R+TJT >= A/C/R+OJT in PSNR ({tjt['psnr_rgb']:.2f} vs {ojt['psnr_rgb']:.2f} dB)",
        ),
        line(tjt["miou"] >= ac["miou"], f"A/C/R+TJT >= A/C in mIoU ({tjt['miou']:.2f} vs {ac['miou']:.2f} %)"),
        line(
            tjt["miou"] == max(mean[name]["miou"] for name in TABLE1),
            f"A/C/R+TJT has the best mIoU of the five ({tjt['miou']:.2f} %)",
        ),
    ]
    for name, baseline in REFINED.items():
        if name in mean:
            base, refined = mean[baseline.name], mean[name]
            checked.append(
                line(
                    refined["miou"] > base["miou"],
                    f"{name} above {baseline.name} in mIoU ({refined['miou']:.2f} vs {base['miou']:.2f} %; "
                    f"PSNR {refined['psnr_rgb']:.2f} vs {base['psnr_rgb']:.2f} dB)",
                )
            )
    return checked


def mean_table(mean: dict[str, dict[str, float]]) -> str:
    """The means over the sets, one column per row of Table 1, the paper's figures in the last line."""
    names = [n for n in mean if n != "Clean (upper bound)"]
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for title, key, fmt in (
        ("PSNR (Y, dB)", "psnr_y", "{:.2f}"),
        ("PSNR (RGB, dB)", "psnr_rgb", "{:.2f}"),
        ("SSIM (RGB)", "ssim_rgb", "{:.4f}"),
        ("mIoU (%)", "miou", "{:.2f}"),
        ("frames worse than input (all sets)", "worse_than_input", "{:.0f}"),
        ("clean in: PSNR (RGB, dB)", "clean_in_psnr_rgb", "{:.2f}"),
    ):
        lines.append(
            f"| {title} | " + " | ".join(fmt.format(mean[n][key]) if key in mean[n] else "–" for n in names) + " |"
        )
    lines.append(
        "| paper: PSNR (Y) / mIoU | "
        + " | ".join("{:.2f} / {:.2f}".format(*PAPER[n]) if n in PAPER else "–" for n in names)
        + " |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--run", type=Path, required=True, help="the finished run: its stage1 (A/C) and stage2 (TJT)")
    parser.add_argument("--variants", type=Path, required=True, help="where A/C+OJT, A/C/R, A/C/R+OJT were trained")
    parser.add_argument(
        "--eval-data", nargs="+", required=True, metavar="NAME=ROOT", help="synthesised sets (test split)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for REPORT.md and results.json")
    parser.add_argument("--limit", type=POSITIVE_INT, default=None, help="score at most this many frames per set")
    args = parser.parse_args(argv)
    try:
        sets = name_path_pairs(args.eval_data, "--eval-data")
        trained, budgets = rows(args.run, args.variants)
        per_set = {name: score(trained, root, False, args.limit, None) for name, root in sets.items()}
    except DerainSegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mean = means(per_set)
    since = " · ".join(budgets.values())
    report = (
        f"# Table 1 at one budget from `{args.run}`\n\n"
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} · {machine()} · sets: "
        + ", ".join(f"{name} `{root}` ({per_set[name]['Rainy']['images']} test frames)" for name, root in sets.items())
        + f"\n\nA/C is `{args.run}`'s stage 1; trained from it since: {since}\n\n## Means over the sets\n\n{mean_table(mean)}\n"
        + "\n".join(claims(mean))
        + "\n\n"
        + "".join(f"## {name}\n\n{markdown(results)}\n" for name, results in per_set.items())
    )
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "REPORT.md", report.encode())
    atomic_write_bytes(args.out / "results.json", json.dumps({"sets": per_set, "means": mean}, indent=1).encode())
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
