"""Training configuration: defaults here, YAML presets over them, ``key=value`` overrides last.

Every key a preset or an override names must exist in ``DEFAULTS``: a typo is an error that
lists the closest keys, never a silently ignored setting.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "model": {"preset": "default", "num_srrb": 2},  # preset: default (paper sizes) or small
    "data": {"root": "outputs/demo/data", "crop": [512, 512], "batch_size": 6, "workers": 2, "flip": True,
             "eval_halves": False},
    "optim": {"lr": 1.0e-3, "betas": [0.5, 0.999], "epochs": 100, "milestones": [30, 50, 80], "gamma": 0.2,
              "steps_per_epoch": None},
    "stage0": {"lr": 0.01, "momentum": 0.9, "weight_decay": 1.0e-4, "epochs": 100, "poly_power": 0.9,
               "steps_per_epoch": None, "vainf_checkpoint": None},
    "loss": {"semantic_weight": 0.005, "lf_layer": "layer1", "lf_weight": 0.1, "alpha": 0.85},
    "init": {"stage0": None, "stage1": None},
    "run": {"out": "runs/default", "log_every": 10, "checkpoint_every_steps": None, "max_steps": None, "amp": True,
            "progress": True},
}


class ConfigError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _set(cfg: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    known = _flatten(DEFAULTS)
    if dotted not in known:
        close = difflib.get_close_matches(dotted, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown config key {dotted!r} (from {source}){hint}")
    node = cfg
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = _coerce(dotted, value, known[dotted], source)


def _coerce(dotted: str, value: Any, default: Any, source: str) -> Any:
    """The value in the default's type. YAML 1.1 reads ``1e-4`` (no dot) as a string, which is how
    people write learning rates; a value of the wrong kind is an error here, not a crash in a loop."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok, value = not isinstance(value, (dict, list)), str(value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{dotted} (from {source}) takes a {type(default).__name__} like {default!r}, got {value!r}")
    return value


def load_config(preset: str | None = None, overrides: list[str] | None = None) -> dict[str, Any]:
    """``preset``: a name in train/configs (smoke, paper) or a YAML path."""
    cfg = copy.deepcopy(DEFAULTS)
    if preset:
        path = Path(preset) if Path(preset).suffix in (".yaml", ".yml") else CONFIG_DIR / f"{preset}.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"config {preset!r} not found ({path}); presets: {sorted(p.stem for p in CONFIG_DIR.glob('*.yaml'))}")
        for key, value in _flatten(yaml.safe_load(path.read_text()) or {}).items():
            _set(cfg, key, value, str(path))
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
        key, raw = item.split("=", 1)
        _set(cfg, key, yaml.safe_load(raw), "command line")
    return cfg
