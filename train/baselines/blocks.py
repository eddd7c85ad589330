"""Blocks that more than one baseline deraining network is built from.

PReNet and AGAN's attentive-recurrent network come from the same recurrent family (a ConvLSTM
fed by plain residual blocks, no normalisation); AGAN's autoencoder and DuRN's decoder upsample
the same way (transposed conv, then a 2x2 average that smooths its checkerboard). One copy each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LSTMState = tuple[Tensor, Tensor]


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM without peepholes: gates i, f, g, o from one 3x3 conv on [x, h].

    The public PReNet and AGAN code use four separate convs; one conv with 4x the outputs is the
    same function with the same parameter count, and one kernel launch instead of four.
    """

    def __init__(self, in_channels: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, 3, padding=1)

    def zero_state(self, x: Tensor) -> LSTMState:
        """h = c = 0 with the batch and spatial size of ``x`` (any channel count)."""
        zeros = x.new_zeros((x.shape[0], self.hidden, x.shape[2], x.shape[3]))
        return zeros, zeros

    def forward(self, x: Tensor, state: LSTMState) -> LSTMState:
        h, c = state
        i, f, g, o = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ReluResBlock(nn.Module):
    """conv3x3-ReLU-conv3x3-ReLU added to the input, then ReLU (no normalisation, zero padding)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class SmoothUpsample(nn.Sequential):
    """x2 upsampling: 4x4 transposed conv, then a stride-1 2x2 average (reflection-padded at the
    top-left so the size stays exactly doubled) that smooths the transposed conv's checkerboard; ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1),
            nn.ReflectionPad2d((1, 0, 1, 0)),
            nn.AvgPool2d(2, stride=1),
            nn.ReLU(),
        )
