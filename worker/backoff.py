"""The one backoff policy of the runtime: capped exponential delay with full jitter.

Used around whole operations that botocore's own retries (standard/adaptive mode, set on every
client) have already given up on: the FIFO receive loop, a group run waiting out an unreachable
table or bucket, the batched deleter, and the fan-out poller's receive. Each use names its own
base and cap; full jitter (a uniform draw between 0 and the capped delay) spreads the workers of a
fleet that all saw the same outage, so they do not come back in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackoffPolicy:
    base: float
    """Delay ceiling of the first retry, in seconds."""
    cap: float
    """No delay ever exceeds this, however many attempts failed."""

    def ceiling(self, attempt: int) -> float:
        """The largest delay after `attempt` consecutive failures (1 = the first failure)."""
        return min(self.cap, self.base * 2.0 ** max(0, min(attempt - 1, 62)))

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, ceiling(attempt)]."""
        return self.ceiling(attempt) * draw()


RECEIVE = BackoffPolicy(base=0.5, cap=20.0)
"""ReceiveMessage / GetQueueAttributes failing (FIFO receivers, startup, fan-out poller)."""
DEPENDENCY = BackoffPolicy(base=0.2, cap=10.0)
"""A group run waiting out an unreachable table or bucket (the heartbeat keeps its messages hidden)."""
DELETE = BackoffPolicy(base=0.1, cap=5.0)
"""DeleteMessageBatch entries that failed for a transient reason."""


@dataclass
class Backoff:
    """The failure count of one loop under a policy: `failed()` returns the next sleep, `succeeded()` resets."""

    policy: BackoffPolicy
    draw: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = 0

    def failed(self) -> float:
        self.attempts += 1
        return self.policy.delay(self.attempts, self.draw)

    def succeeded(self) -> None:
        self.attempts = 0
