"""What a run folder already holds, and what a new invocation may do with it.

Trained weights are the most expensive file a user has: a run that finds a ``last.pt`` in its
folder continues it with ``--resume`` or refuses, never trains over it. ``log.csv`` follows the
checkpoint: rows written after the last save (a run killed between checkpoints) are dropped on
resume, so the resumed run's rows are not there twice; a fresh run starts a fresh log.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_write_bytes


class RunFolderError(DerainSegError):
    """A run folder whose trained weights this invocation would overwrite."""


def _progress(checkpoint: Path) -> str:
    """'step 40 of 400' where the checkpoint says so; a bare description where it cannot be read."""
    try:
        from derain_seg_ros.runtime.checkpoint import read_checkpoint

        state = read_checkpoint(checkpoint)
        return f"trained to step {state.get('step', '?')} of {state.get('total_steps', '?')}"
    except Exception:  # noqa: BLE001 - only decorates the message; the refusal stands either way
        return "a checkpoint"


def refuse_overwrite(run_dir: Path, resume: bool) -> None:
    """Raise unless ``run_dir`` holds no ``last.pt`` or the run continues it (``--resume``)."""
    last = Path(run_dir) / "last.pt"
    if resume or not last.exists():
        return
    raise RunFolderError(
        f"{last} already holds {_progress(last)}; --resume continues it, "
        f"or start over with another run.out=DIR (or delete {run_dir} first)"
    )


def trim_log(csv_path: Path, last_step: int) -> None:
    """Keep the rows of ``log.csv`` up to ``last_step`` (the checkpoint's): a resumed run writes the rest again.

    ``last_step`` 0 (a fresh start) removes the log, whose rows belong to no checkpoint."""
    if not csv_path.is_file():
        return
    if last_step <= 0:
        csv_path.unlink()
        return
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    kept = [row for row in rows if _step(row) <= last_step]
    if fields is None or len(kept) == len(rows):
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")  # csv's own default, as the log writes
    writer.writeheader()
    writer.writerows(kept)
    atomic_write_bytes(csv_path, out.getvalue().encode())


def _step(row: dict[str, str]) -> int:
    try:
        return int(row.get("step") or 0)
    except ValueError:
        return 0
