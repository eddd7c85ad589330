"""The ranges of the training settings, checked before anything trains or is written.

A value of the right type can still mean nothing (``stage0.epochs=-1`` trains no step and would
write an untrained ``last.pt``; ``stage0.lr=-1`` reaches torch as a ``ValueError``; ``nan`` passes
every comparison): each is refused in one line that names the key and the range it takes. Rules
go by the key's last part, so a new section's ``lr`` or ``epochs`` is covered without listing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

# last part of a dotted key -> (is the value acceptable, the range said in the error); None passes (a default)
Rule = tuple[Callable[[Any], bool], str]
POSITIVE: Rule = (lambda v: v > 0, "> 0")
AT_LEAST_ONE: Rule = (lambda v: v >= 1, ">= 1")
NON_NEGATIVE: Rule = (lambda v: v >= 0, ">= 0")
RULES: dict[str, Rule] = {
    "lr": POSITIVE,
    "epochs": AT_LEAST_ONE,
    "steps_per_epoch": AT_LEAST_ONE,
    "batch_size": AT_LEAST_ONE,
    "workers": NON_NEGATIVE,
    "val_count": NON_NEGATIVE,
    "make_count": AT_LEAST_ONE,
    "log_every": AT_LEAST_ONE,
    "checkpoint_every_steps": AT_LEAST_ONE,
    "max_steps": AT_LEAST_ONE,
    "num_srrb": NON_NEGATIVE,
    "gamma": POSITIVE,
    "momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "weight_decay": NON_NEGATIVE,
    "poly_power": NON_NEGATIVE,
    "semantic_weight": NON_NEGATIVE,
    "lf_weight": NON_NEGATIVE,
    "alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "seed": NON_NEGATIVE,
    "make_seed": NON_NEGATIVE,
    "betas": (lambda v: all(0 <= b < 1 for b in v), "two numbers in [0, 1)"),
}


def range_errors(flat: dict[str, Any]) -> list[str]:
    """One message per dotted key whose value is out of its range (or not finite)."""
    errors = []
    for key, value in flat.items():
        if value is None or isinstance(value, (bool, str)):
            continue
        numbers = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
            errors.append(f"{key} must be a finite number, got {value!r}")
            continue
        rule = AT_LEAST_ONE if key.startswith("baseline_epochs.") else RULES.get(key.rsplit(".", 1)[-1])
        if rule is not None and not rule[0](value):
            errors.append(f"{key} must be {rule[1]}, got {value!r}")
    return errors
