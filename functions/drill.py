"""Timer trigger: the monthly DR drills (``%DRILL_SCHEDULE%``) of the clusters that opted in."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("on_drill_schedule")
@bp.timer_trigger(arg_name="timer", schedule="%DRILL_SCHEDULE%", run_on_startup=False, use_monitor=True)
def on_drill_schedule(timer: func.TimerRequest) -> None:
    from shared.drill import service as drill

    records = drill.run_scheduled(past_due=timer.past_due)
    log.info("drills: %s", ", ".join(f"{r.cluster} {r.result.value}" for r in records) or "no cluster opted in")
