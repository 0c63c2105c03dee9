"""Timer trigger: the hourly drift audit; HTTP trigger: the status page built from the stored reports and drill
records, and (``?record=<name>``) one stored audit report or drill record, the page's links."""

from __future__ import annotations

import json
import logging
import os

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)

_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

# STATUS_PAGE_AUTH=entra (set by the Bicep with statusPageEntraClientId): App Service authentication signs users in
# before a request reaches the host, so the route takes no function key. Read when the host indexes the functions
# (an auth level is part of the binding). The handler still refuses a request that App Service did not sign in:
# it alone sets X-MS-CLIENT-PRINCIPAL-ID, and strips that header from what clients send
# (learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
ENTRA = os.environ.get("STATUS_PAGE_AUTH", "key") == "entra"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL-ID"


@bp.function_name("on_drift_audit")
@bp.timer_trigger(arg_name="timer", schedule="%DRIFT_AUDIT_SCHEDULE%", run_on_startup=False, use_monitor=True)
def on_drift_audit(timer: func.TimerRequest) -> None:
    from shared.audit import service as audit

    report = audit.run_scheduled(past_due=timer.past_due)
    log.info("drift audit: %s clusters, %s findings", len(report.clusters), report.finding_count)


@bp.function_name("status_page")
@bp.route(route="status", methods=["GET"],
          auth_level=func.AuthLevel.ANONYMOUS if ENTRA else func.AuthLevel.FUNCTION)
def status_page(req: func.HttpRequest) -> func.HttpResponse:
    from shared.audit import status_page

    if ENTRA and not req.headers.get(PRINCIPAL_HEADER):
        return _json({"error": "sign in: STATUS_PAGE_AUTH=entra and App Service authentication did not sign this "
                               "request in"}, 401)
    record = req.params.get("record")
    if record is not None:  # one of the page's records; the same function, so the page's function key opens it
        return _record(record)
    html = status_page.render_latest(code=req.params.get("code") or None)
    return func.HttpResponse(html, status_code=200, mimetype="text/html", charset="utf-8",
                             headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                      **_HEADERS})


def _record(name: str) -> func.HttpResponse:
    from shared.audit import status_page
    from shared.errors import RejectedInput

    try:
        body = status_page.stored_record(name)
    except RejectedInput as err:
        return _json({"error": str(err)}, 400)
    if body is None:
        return _json({"error": "no such record"}, 404)
    return _json(body, 200)


def _json(body: object, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, indent=1, sort_keys=True), status_code=status,
                             mimetype="application/json", charset="utf-8",
                             headers={"Content-Security-Policy": "default-src 'none'", **_HEADERS})
