"""Benchmark ``derain-seg synth``: images per second, the car preset against the legacy one; appends to bench/RESULTS.md.

    python bench/bench_synth.py                       # 1024x2048 (16 images) and 256x512 (80 images), --workers 2
    python bench/bench_synth.py --sizes 128x256 --count 40 --workers 1

Each run writes a whole dataset (scene, rain, four PNGs and their checksums, the manifest) into a
temporary folder, as a user's run would. The machine's load average is recorded beside every row:
on a shared machine it says how far the figure is from an idle one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from derain_seg_ros.data.io import parse_size
from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, load_manifest, synthesize
from derain_seg_ros.fileio import atomic_write_bytes

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
COUNTS = {"1024x2048": 16, "256x512": 80}


def run_one(size: str, preset: str, count: int, workers: int, seed: int) -> dict:
    height, width = parse_size(size)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        spec = SynthSpec(count=count, height=height, width=width, seed=seed, rain_preset=preset)
        start = time.perf_counter()
        synthesize(spec, tmp, workers=workers, progress=False)
        wall = time.perf_counter() - start
        densities = [
            it["rain"].get("density") or it["rain"].get("streak_density") for it in load_manifest(tmp)["items"]
        ]
    mix = {d: densities.count(d) for d in ("light", "medium", "heavy")}
    return {
        "size": size,
        "preset": preset,
        "count": count,
        "workers": workers,
        "wall_s": wall,
        "img_s": count / wall,
        "load": (load_before + os.getloadavg()[0]) / 2,
        "mix": mix,
    }


def append(rows: list[dict], path: Path) -> None:
    """Append a dated table (earlier results are kept), written atomically."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python bench/bench_synth.py", *sys.argv[1:]])
    lines = [
        "",
        "## derain-seg synth: images per second, car preset vs legacy",
        "",
        f"{stamp} · CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores · numpy {np.__version__}"
        f" · OpenCV {cv2.__version__} · `{command}` · the load average includes the benchmark's own workers",
        "",
        "| size | preset | images | workers | wall s | images/s | load avg (1 min) during | light/medium/heavy |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        mix = "/".join(str(r["mix"][d]) for d in ("light", "medium", "heavy"))
        lines.append(
            f"| {r['size']} | {r['preset']} | {r['count']} | {r['workers']} | {r['wall_s']:.1f} | {r['img_s']:.2f} "
            f"| {r['load']:.1f} | {mix} |"
        )
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    atomic_write_bytes(path, (old.rstrip("\n") + "\n" + "\n".join(lines) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(COUNTS))
    parser.add_argument("--presets", nargs="+", default=["car", "legacy"])
    parser.add_argument("--count", type=int, help="images per run (default: 16 at 1024x2048, 80 at 256x512)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes:
        for preset in args.presets:
            row = run_one(size, preset, args.count or COUNTS.get(size, 40), args.workers, args.seed)
            print(
                f"{size} {preset}: {row['img_s']:.2f} images/s ({row['count']} in {row['wall_s']:.1f} s, load {row['load']:.1f})",
                flush=True,
            )
            rows.append(row)
    append(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
