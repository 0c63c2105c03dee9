"""Event Grid's side of a function call: the azure-functions converter builds the trigger's event from
the delivered JSON (as the Functions host does), and a retryable failure is delivered again, at least
once and in whatever order the caller passes — used by the tests, the demo and the benchmarks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

# Event Grid's retry schedule, in Azure seconds: "10 seconds, 30 seconds, 1 minute, 5 minutes, 10 minutes, 30 minutes,
# 1 hour, 3 hours, 6 hours, every 12 hours up to 24 hours" (learn.microsoft.com/azure/event-grid/delivery-and-retry).
RETRY_SCHEDULE = (10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)


def as_trigger_event(body: dict[str, Any]) -> Any:
    """The ``azure.functions`` EventGridEvent or CloudEvent the host would pass to the trigger."""
    from azure.functions.eventgrid import EventGridEventInConverter
    from azure.functions.meta import Datum

    return EventGridEventInConverter.decode(Datum(type="json", value=json.dumps(body)), trigger_metadata={})


def deliver(events: Sequence[dict[str, Any]], handle: Callable[[Any], Any], *,
            retry_on: tuple[type[BaseException], ...], attempts: int = 8,
            on_retry: Callable[[dict[str, Any], BaseException, int], None] | None = None) -> list[Any]:
    """Call ``handle`` once per event; an exception in ``retry_on`` redelivers it (up to ``attempts``).
    Raises ``RuntimeError`` when an event is never handled: Event Grid would dead-letter it."""
    results = []
    for body in events:
        for attempt in range(1, attempts + 1):
            try:
                results.append(handle(as_trigger_event(body)))
                break
            except retry_on as err:
                if on_retry is not None:
                    on_retry(body, err, attempt)
        else:
            raise RuntimeError(f"event {body.get('id')} failed {attempts} deliveries")
    return results


def event_grid_waits(clock: Any) -> Callable[[dict[str, Any], BaseException, int], None]:
    """An ``on_retry`` for ``deliver`` that waits Event Grid's delay before the next attempt on the emulator's clock
    (``emulator.core.clock.Clock``: Azure's delay over the time scale; no wait on the instant clock)."""
    def wait(body: dict[str, Any], err: BaseException, attempt: int) -> None:
        delay = RETRY_SCHEDULE[min(attempt, len(RETRY_SCHEDULE)) - 1]
        time.sleep(0.0 if clock.instant else delay / clock.time_scale)

    return wait
