"""The trust head behind C: how much of C's gated correction to apply, per frame and per cell of a coarse grid.

Why: C's correction is right where rain is heavy and wrong where the frame is nearly clean. On CamVid
val under the car preset the tone head alone made no frame worse, but C's correction on top of it
made 12 of 101 frames worse: all light-rain frames, where the rain map M fires on 1.6-2 % of the
pixels and C moves them by 6-11 grey levels that were nearly right (train/RESULTS.md). Whether a
correction helps is a property of the whole frame (how much rain it carries, how much M fires, how
large the correction is), which a window-sized U-Net does not see. The head looks at the tone-corrected
frame, M and the correction at 1 / POOL of the frame's size (a small strided CNN, its global mean and
max, and a 1x1-conv pair per cell of its 1/(8 POOL) grid) and returns a scale min(1, 2 sigmoid(z)) in
(0, 1], upsampled bilinearly: it only holds back a correction that harms. A scale up to 2, which also
completed corrections that fall short, gained +0.2 dB on the pane but cost the paper kind 2.5 mIoU points
at equal PSNR (train/RESULTS.md). The last layers start at zero, so a fresh head is the identity (scale 1) and a checkpoint
without it loads with it there (``nets.config.GROWN_FIELDS``). It is fitted alone behind the finished
A and C (train/trust_fit.py), on the per-frame ln-MSE, PSNR's own scale, on which a light-rain frame
made worse counts as much as a heavy one made better.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_seg_ros.nets.tone import POOL, frame_encoder

INPUTS = 7  # the tone-corrected frame (3), the rain map M (1), C's gated correction (3)


class CapAtOne(torch.autograd.Function):
    """min(1, s), whose gradient still flows above 1 when it asks for a lower s.

    A plain clamp passes no gradient where s > 1: if the fit's first Adam steps lift every cell's z above 0 (a batch
    where C's corrections fall short), the whole head is capped at 1, receives no gradient again and stays the
    identity for good. That happened behind a stage 1 judged by the segmenter (train/RESULTS.md): the fit ended at a
    scale of 1.00 on every frame, dry ones included. Above the cap a gradient that would raise s is still dropped
    (the head may only hold back, never push z further up for nothing)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, s: Tensor) -> Tensor:
        ctx.save_for_backward(s)
        return s.clamp(max=1)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (s,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return grad * ((s <= 1) | (grad > 0)).to(grad.dtype)


def cap_at_one(s: Tensor) -> Tensor:
    """min(1, s): ``CapAtOne`` where a gradient is taken, the plain clamp where none is (inference, and the
    exported graph: ONNX and TensorRT see one Clip, the same values)."""
    if s.requires_grad and not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
        return CapAtOne.apply(s)
    return s.clamp(max=1)


class TrustHead(nn.Module):
    """(base, M, correction) at full size -> a scale on the correction, N x 1 x H x W in (0, 1]."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.features = frame_encoder(INPUTS, width)
        self.head = nn.Sequential(nn.Linear(4 * width, 2 * width), nn.ReLU(inplace=True), nn.Linear(2 * width, 1))
        self.local = nn.Sequential(
            nn.Conv2d(6 * width, 2 * width, 1), nn.ReLU(inplace=True), nn.Conv2d(2 * width, 1, 1)
        )
        for last in (self.head[-1], self.local[-1]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @staticmethod
    def inputs(base: Tensor, attention: Tensor, correction: Tensor) -> Tensor:
        """What the head looks at, averaged over POOL x POOL blocks (H and W multiples of POOL)."""
        return F.avg_pool2d(torch.cat([base * 2 - 1, attention, correction * 4], dim=1), POOL)

    def pooled_logits(self, small: Tensor) -> Tensor:
        """z per cell of the pooled inputs' grid (N x 1 x h x w, h and w of the 1/(8 POOL) grid)."""
        f = self.features(small)
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        cells = self.local(torch.cat([f, pooled[..., None, None].expand(-1, -1, *f.shape[2:])], dim=1))
        return self.head(pooled)[..., None, None] + cells

    def scale(self, base: Tensor, attention: Tensor, correction: Tensor) -> Tensor:
        """min(1, 2 sigmoid(z)), bilinearly upsampled to the frame's size (1 at the start, where z = 0); the cap
        passes every gradient that lowers the scale, so the fit can always hold a correction back (``CapAtOne``)."""
        z = self.pooled_logits(self.inputs(base, attention, correction))
        z = F.interpolate(z, size=base.shape[2:], mode="bilinear", align_corners=False)
        return cap_at_one(2 * torch.sigmoid(z))

    def forward(self, base: Tensor, attention: Tensor, correction: Tensor) -> Tensor:
        return base + self.scale(base, attention, correction) * correction
