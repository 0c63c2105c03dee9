"""Failover signals: the ARM ``ResourceActionSuccess`` event for a Site Recovery failover action, and the
recovery plan's post-action runbook calling over HTTP with its RecoveryPlanContext.

Both are hints, not proof: the worker re-reads Site Recovery before it changes anything. Both answer at once: the
event's re-addressing is enqueued; the runbook's call gets ``202 Accepted`` and a status URL to poll.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10  # how soon the runbook polls the status URL again


@bp.function_name("on_failover_completed")
@bp.event_grid_trigger(arg_name="event")
def on_failover_completed(event: func.EventGridEvent) -> None:
    from shared.failover import service as failover

    answer = failover.handle_trigger(event)
    log.info("event %s -> %s", event.id, answer.summary())


@bp.function_name("on_recovery_plan_runbook")
@bp.route(route="failover/runbook", methods=["POST", "GET"], auth_level=func.AuthLevel.FUNCTION)
def on_recovery_plan_runbook(req: func.HttpRequest) -> func.HttpResponse:
    """POST: the RecoveryPlanContext, answered ``202 Accepted`` with a ``Location`` to poll; GET ``?status=<key>``:
    that status (202 while the IP step is queued or running, then its outcome). One route, so App Service
    authentication's exclusion of the runbook's path covers both (infra/modules/app.bicep)."""
    from shared.failover import service as failover

    if req.method == "GET":
        status, body = failover.runbook_status(req.params.get("status", ""))
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 202 else {}
        return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers)
    status, body = failover.handle_runbook(req.get_body())
    headers = {}
    if status == 202:  # the asynchronous request-reply pattern: where to poll, and when
        headers = {"Location": _status_url(req.url, body["status"]), "Retry-After": str(RETRY_AFTER_SECONDS)}
        body["status_url"] = headers["Location"]
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers)


def _status_url(request_url: str, key: str) -> str:
    """The status URL: the runbook's own route with ``?status=<key>`` (no function key in it: the runbook sends its
    key as the ``x-functions-key`` header)."""
    return f"{request_url.split('?', 1)[0]}?status={key}"
