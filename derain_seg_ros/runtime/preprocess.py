"""The one preprocessing: 8-bit RGB frames <-> the networks' float tensors.

Every engine, the ONNX graph and training convert through these two functions; padding to the
networks' stride happens inside ``DerainSegPipeline.forward`` (the graph), never by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def to_float_nchw(images: np.ndarray | Tensor | Sequence[np.ndarray]) -> Tensor:
    """uint8 H x W x 3 or N x H x W x 3 (numpy or torch, any device) -> float32 N x 3 x H x W in [0, 1].

    Traceable: the ONNX export puts this very function at the head of its graph.
    """
    if isinstance(images, (list, tuple)):
        images = np.stack([np.asarray(i) for i in images])
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if x.dtype != torch.uint8:
        raise TypeError(f"expected uint8 RGB frames, got {x.dtype}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected H x W x 3 or N x H x W x 3 frames, got shape {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).float().div(255.0)


def to_uint8_hwc(images: Tensor) -> np.ndarray:
    """float N x C x H x W in [0, 1] -> uint8 N x H x W x C numpy (rounded, clamped)."""
    return to_uint8_nhwc_tensor(images).cpu().numpy()


def to_uint8_nhwc_tensor(images: Tensor) -> Tensor:
    """Same as ``to_uint8_hwc`` but stays a tensor on its device (used inside the exported graph)."""
    return images.mul(255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
