"""Failover signals: the ARM ``ResourceActionSuccess`` event for a Site Recovery failover action, and the
recovery plan's post-action runbook calling over HTTP with its RecoveryPlanContext.

Both are hints, not proof: the service re-reads Site Recovery before it changes anything.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("on_failover_completed")
@bp.event_grid_trigger(arg_name="event")
def on_failover_completed(event: func.EventGridEvent) -> None:
    from shared.failover import service as failover

    outcome = failover.handle_trigger(event)
    log.info("event %s -> %s (%s)", event.id, outcome.kind, outcome.reason)


@bp.function_name("on_recovery_plan_runbook")
@bp.route(route="failover/runbook", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def on_recovery_plan_runbook(req: func.HttpRequest) -> func.HttpResponse:
    from shared.failover import service as failover

    status, body = failover.handle_runbook(req.get_body())
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
