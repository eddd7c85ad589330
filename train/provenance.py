"""Where a result was measured: the machine line every report and model card carries."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def machine() -> str:
    """CPU model (or GPU name), threads and torch version, e.g. for 'trained on ...'."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu}, {torch.get_num_threads()} threads{gpu}, torch {torch.__version__}"


def reproduce_section(recipe: str) -> list[str]:
    """A model card's "Reproduce" heading and the command that made the model, as Markdown lines."""
    return ["", "## Reproduce", "", "```bash", recipe, "```", ""]
