"""Timer trigger: the hourly drift audit; HTTP trigger: the status page built from the stored reports and drill
records."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)

_HEADERS = {"Cache-Control": "no-store"}


@bp.function_name("on_drift_audit")
@bp.timer_trigger(arg_name="timer", schedule="%DRIFT_AUDIT_SCHEDULE%", run_on_startup=False, use_monitor=True)
def on_drift_audit(timer: func.TimerRequest) -> None:
    from shared.audit import service as audit

    report = audit.run_scheduled(past_due=timer.past_due)
    log.info("drift audit: %s clusters, %s findings", len(report.clusters), report.finding_count)


@bp.function_name("status_page")
@bp.route(route="status", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def status_page(req: func.HttpRequest) -> func.HttpResponse:
    from shared.audit import status_page

    html = status_page.render_latest(code=req.params.get("code") or None)
    return func.HttpResponse(html, status_code=200, mimetype="text/html", charset="utf-8",
                             headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                      **_HEADERS})

