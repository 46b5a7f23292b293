"""Send again after a transient error: exponential backoff with jitter, up to a limit.

Why jitter: when a full queue refuses a burst of clients at once, retrying them all
after the same pause only brings the burst back.  Each pause is drawn from the upper
half of its exponential step: the clients spread out, and none comes back sooner than
half a step.  The default five retries pause 15.5 to 31 s in all, about as long as a
local tritonserver takes to restart.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import TransientError

T = TypeVar("T")

DEFAULT_RETRIES = 5


@dataclass
class RetryPolicy:
    """``retries`` more tries after the first, pausing ``base_s``, 2×, 4×, ... (at most ``cap_s``)."""

    retries: int = DEFAULT_RETRIES
    base_s: float = 1.0
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    stop: threading.Event = field(default_factory=threading.Event)  # set: give up instead of pausing

    def __post_init__(self):
        if self.retries < 0 or self.base_s < 0 or self.cap_s < self.base_s:
            raise ValueError(
                f"need retries >= 0 and 0 <= base_s <= cap_s, got {self.retries}, {self.base_s}, " f"{self.cap_s}"
            )

    def delay(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (0 for the first retry)."""
        step = min(self.cap_s, self.base_s * 2.0**attempt)
        return step / 2 + self.rng.uniform(0.0, step / 2)

    def call(self, fn: Callable[[], T], on_retry: Callable[[TransientError, int, float], None] | None = None) -> T:
        """``fn()``, tried again after each :class:`TransientError` until the retries run out;
        the last error is then raised, its message saying how many retries it took."""
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except TransientError as exc:
                if attempt == self.retries:
                    if attempt:
                        exc.message = f"{exc.message} (still failing after {attempt} retries)"
                        exc.args = (exc.message,)
                    raise
                pause = self.delay(attempt)
                if on_retry is not None:
                    on_retry(exc, attempt + 1, pause)
                if self.stop.wait(pause):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
