"""When and how long to wait before retrying a Graph request: one policy, one budget per run.

429, 503 and 504 (and 500/502) honour Retry-After, or back off exponentially with
full jitter when it is absent, as Microsoft's throttling guidance asks; the total
wait of a run is capped, past which the run fails with ErrorCode Throttled instead
of hanging. Graph does not execute a request it answers 429 or 503, so those are
safe to retry even for POST; any other uncertain answer to a POST is not retried
blindly (the caller looks the object up first).
"""
from __future__ import annotations

import email.utils
import random
import time
from typing import Callable

from msgspec import Struct, field

from ..notices import Notify, Waiting

RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})
NOT_EXECUTED_STATUS = frozenset({429, 503})  # Graph did not run the request: safe to repeat any method
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE", "HEAD"})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class RetryBudget(Struct):
    """The waiting one run may do, shared by all its requests."""

    max_wait: float = 60.0
    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    waited: float = 0.0
    retries: int = 0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    notify: Notify | None = None  # told of every wait before it starts (the CLI prints it)

    def next_delay(self, attempt: int, retry_after: str | None) -> float | None:
        """Seconds to wait before attempt *attempt*+1, or None when the attempts or the budget are spent."""
        if attempt + 1 >= self.max_attempts:
            return None
        asked = parse_retry_after(retry_after)
        delay = asked if asked is not None else self.rng.uniform(0, min(self.max_delay,
                                                                        self.base_delay * 2 ** attempt))
        if self.waited + delay > self.max_wait:
            return None
        return delay

    def wait(self, delay: float, cause: str = "Microsoft Graph asked to wait", then: str = "trying again") -> None:
        """Wait *delay* seconds, counted against the budget; *cause* and *then* tell the notifier why."""
        if delay > 0 and self.notify is not None:
            self.notify(Waiting(delay, cause, then=then, waited=self.waited, budget=self.max_wait))
        self.waited += delay
        self.retries += 1
        if delay > 0:
            self.sleep(delay)


def may_retry(method: str, status: int | None) -> bool:
    """status None means the connection failed or timed out after the request may have been sent."""
    if status is None:
        return method.upper() in IDEMPOTENT_METHODS
    if status in NOT_EXECUTED_STATUS:
        return True
    return status in RETRIABLE_STATUS and method.upper() in IDEMPOTENT_METHODS
