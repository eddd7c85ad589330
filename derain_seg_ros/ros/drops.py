"""Frames lost before the node ever saw them, estimated from the gaps between header stamps.

A BEST_EFFORT subscription loses frames inside DDS (a full history, a fragment lost on the
network, a driver that skipped a readout) and rclpy never says so. A camera stamps its frames at
a steady period, so a gap of about k periods between two stamps that arrive means k - 1 frames
were lost on the way. The period is the median of the recent stamp differences, so a gap does not
distort it and a camera that changes its rate is followed after a few frames.
"""

from __future__ import annotations

from collections import deque

RESTART_NS = 10 * 10**9  # a jump this large either way is a new recording (a bag replayed), not a loss


def median(values) -> float:
    """``np.median`` of a few integers, in plain Python: this runs for every message (~10x cheaper than numpy
    on a deque of 16, and the same value: the middle one, or the mean of the two middle ones)."""
    ordered = sorted(values)
    half = len(ordered) // 2
    return float(ordered[half]) if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


class StampGaps:
    """``observe(stamp_ns)`` per arriving frame -> how many frames are missing just before it."""

    def __init__(self, history: int = 16, settle: int = 4, tolerance: float = 1.5) -> None:
        self.settle, self.tolerance = settle, tolerance
        self._deltas: deque[int] = deque(maxlen=history)
        self._last: int | None = None

    def observe(self, stamp_ns: int) -> int:
        if self._last is None or abs(stamp_ns - self._last) > RESTART_NS or stamp_ns <= 0:
            self._last = stamp_ns if stamp_ns > 0 else None  # first frame, unstamped, or a restart (a bag replayed)
            self._deltas.clear()
            return 0
        delta = stamp_ns - self._last
        if delta <= 0:  # repeated or out of order: nothing to learn from it
            return 0
        self._last = stamp_ns
        missing = 0
        if len(self._deltas) >= self.settle:
            period = median(self._deltas)
            if period > 0 and delta > self.tolerance * period:
                missing = max(0, round(delta / period) - 1)
        self._deltas.append(delta)
        return missing
