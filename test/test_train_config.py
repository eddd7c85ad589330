"""Training configuration and its errors: every setting is checked before a step is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, synthesize
from train.config import ConfigError, load_config
from train.run import main as run_main


def test_presets_load_and_overrides_win() -> None:
    paper = load_config("paper")
    assert paper.optim.lr == 1e-3 and paper.optim.milestones == [0.3, 0.5, 0.8] and paper.data.batch_size == 6
    smoke = load_config("smoke", ["optim.lr=5e-4", "data.crop=[32,64]", "run.max_steps=7"])
    assert smoke.optim.lr == 5e-4 and isinstance(smoke.optim.lr, float)  # YAML 1.1 alone gives "5e-4"
    assert smoke.data.crop == [32, 64] and smoke.run.max_steps == 7


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.learning_rate=1e-3", "unknown config key 'optim.learning_rate'"),
        ("optim.lr=fast", "optim.lr .* takes a float"),
        ("optim.epochs=2.5", "optim.epochs .* takes a int"),
        ("run.amp=maybe", "run.amp .* takes a bool"),
        ("optim.lr", "is not key=value"),
        ("loss.log_mse_weight=-0.01", "loss.log_mse_weight is a weight >= 0"),
        ("loss.log_mse_eps=0", "loss.log_mse_eps is an MSE floor > 0"),
    ],
)
def test_bad_overrides_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("smoke", [override])


def test_typo_gets_the_closest_keys() -> None:
    with pytest.raises(ConfigError, match="did you mean optim.epochs"):
        load_config(None, ["optim.epoch=3"])


def test_missing_dataset_and_missing_stage1_checkpoint_are_clear(tmp_path: Path, capsys) -> None:
    assert (
        run_main(["--stage", "1", "--config", "smoke", f"data.root={tmp_path / 'nothing'}", f"run.out={tmp_path}"]) == 2
    )
    assert "no dataset at" in capsys.readouterr().err
    synthesize(SynthSpec(count=4, height=32, width=64, seed=0), tmp_path / "data", progress=False)
    assert (
        run_main(
            [
                "--stage",
                "2",
                "--config",
                "smoke",
                f"data.root={tmp_path / 'data'}",
                f"run.out={tmp_path}",
                "data.batch_size=2",
                "data.crop=[32,64]",
                "run.progress=false",
            ]
        )
        == 2
    )
    assert "set init.stage" in capsys.readouterr().err


def test_every_network_setting_is_set_by_its_dotted_key_and_declared_only_in_the_network_config() -> None:
    """A field added to PipelineConfig (or a part's config) is a training key at once, checked by its type."""
    from dataclasses import fields, is_dataclass

    from derain_seg_ros.nets.config import PipelineConfig
    from train.config import ModelConfig, flat_keys
    from train.stages import pipeline_config

    def leaves(node: object, prefix: str = "") -> set[str]:
        out: set[str] = set()
        for f in fields(node):  # type: ignore[arg-type]
            value = getattr(node, f.name)
            out |= leaves(value, f"{prefix}{f.name}.") if is_dataclass(value) else {f"{prefix}{f.name}"}
        return out

    assert {k for k in flat_keys() if k.startswith("model.")} == {"model.preset"} | {
        f"model.{k}" for k in leaves(PipelineConfig())
    }
    assert [f.name for f in fields(ModelConfig)] == ["preset", "settings"]  # nothing re-declared
    cfg = load_config(
        "embedded",
        ["model.coarse.residual=false", "model.correction_shrink=0.25", "model.deeplab.input_norm=clamp"],
    )
    networks = pipeline_config(cfg)
    assert not networks.coarse.residual and networks.coarse.gate  # the rest stays the preset's
    assert networks.correction_shrink == 0.25 and networks.deeplab.input_norm == "clamp"
    assert networks.attention == PipelineConfig.embedded().attention
    assert load_config("embedded").to_dict()["model"] == {"preset": "embedded", "num_srrb": 2}
    for override, message in (
        ("model.residual=true", "did you mean model.coarse.residual"),
        ("model.deeplab.input_norm=bogus", "choice of 'minmax_image'"),
        ("model.correction_shrink=-1", "grey levels"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config("embedded", [override])
