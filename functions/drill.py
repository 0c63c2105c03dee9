"""Timer trigger: the monthly DR drills (``%DRILL_SCHEDULE%``) of the clusters that opted in, enqueued for the worker
(one ``drill`` work item per cluster and month); no drill step runs here."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("on_drill_schedule")
@bp.timer_trigger(arg_name="timer", schedule="%DRILL_SCHEDULE%", run_on_startup=False, use_monitor=True)
def on_drill_schedule(timer: func.TimerRequest) -> None:
    from shared.drill import service as drill

    enqueued = drill.run_scheduled(past_due=timer.past_due)
    log.info("drills enqueued for the worker: %s", ", ".join(w.id for w in enqueued)
             or "none (no cluster opted in, or this month's drills were enqueued before)")
