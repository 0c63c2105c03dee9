"""Event Grid's side of a function call: the azure-functions converter builds the trigger's event from
the delivered JSON (as the Functions host does), and a retryable failure is delivered again, at least
once and in whatever order the caller passes — used by the tests, the demo and the benchmarks."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any


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
