"""The benchmark times stages through the one graph (hooks), and counts FLOPs without computing."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.benchmark import Setting, StageClock, count_flops, plan, stage_hooks, time_setting
from derain_seg_ros.runtime.engine_spec import EngineSpecError
from derain_seg_ros.runtime.frame_pipeline import FramePipeline
from derain_seg_ros.runtime.torch_engine import TorchEngine

SMALL = PipelineConfig.small()


def test_stages_are_the_pipelines_own_submodules_timed_inside_one_call() -> None:
    pipeline = DerainSegPipeline.from_config(SMALL).eval()
    setting = Setting("torch", "fp32", False, (30, 50), 1, "small")
    flops = {"attention": 1.0, "pipeline": 9.0}  # passed through as given (count_flops has its own test)
    timings = time_setting(TorchEngine(pipeline), setting, warmup=0, runs=1, flops=flops)
    names = [t.name for t in timings]
    assert names == [name for name, _ in pipeline.named_children()] + ["pipeline"]
    stages, whole = timings[:-1], timings[-1]
    assert all(t.median_ms > 0 for t in timings) and (stages[0].gflops, whole.gflops) == (1.0, 9.0)
    assert sum(t.median_ms for t in stages) <= whole.median_ms  # one call: the stages lie inside it
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in pipeline.modules())  # hooks removed after


def test_a_submodule_called_twice_is_timed_as_one_stage() -> None:
    """Whatever top-level networks a pipeline has (a baseline in front of DeepLab, say) are stages."""

    class TwoPass(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.front, self.back = nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.back(self.front(self.front(x)))

    model, clock = TwoPass(), StageClock(cuda=False)
    with stage_hooks(model, clock.enter, clock.leave):
        model(torch.rand(1, 3, 8, 8))
        per_stage = clock.collect()
    assert sorted(per_stage) == ["back", "front"] and all(ms > 0 for ms in per_stage.values())
    assert clock.collect() == {}  # collected once


def test_flops_counted_on_the_meta_device_equal_those_of_a_real_run() -> None:
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        FramePipeline(DerainSegPipeline.from_config(SMALL)).eval()(torch.zeros(2, 20, 30, 3, dtype=torch.uint8))
    counted = count_flops(SMALL, 20, 30, 2)
    assert counted["pipeline"] == pytest.approx(counter.get_total_flops() / 1e9)
    assert 0 < sum(v for k, v in counted.items() if k != "pipeline") <= counted["pipeline"]


def test_a_malformed_setting_is_refused_before_anything_runs() -> None:
    assert [s.label for s in plan("small", [(8, 8)], [1], ["fp32", "fp16+graph"], ["torch", "onnxruntime"])] == [
        "torch fp32, 8x8, batch 1, small",
        "torch fp16+graph, 8x8, batch 1, small",
        "onnxruntime fp32, 8x8, batch 1, small",
        "onnxruntime fp16, 8x8, batch 1, small",
    ]
    with pytest.raises(EngineSpecError, match="fp16\\+grpah"):
        plan("small", [(8, 8)], [1], ["fp16+grpah"], ["torch"])
