"""The streaming-stage contract (STYLE.md #5, #6).

Every stateful stage has ``reset()`` and ``process(block)``; feeding a signal in blocks of any sizes and
concatenating the outputs along the time axis (axis 0) equals processing it in one call.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class StreamStage(Protocol):
    def reset(self) -> None:
        """Forget all history, as if freshly constructed."""

    def process(self, block: np.ndarray) -> np.ndarray:
        """Consume ``block`` (time on axis 0) and return the output it completes (time on axis 0; may be empty)."""
