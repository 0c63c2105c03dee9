"""Event Grid trigger: a VM's (or its availability set's or resource group's) tags changed: screened, then the
enrollment is enqueued for the worker; the delivery is answered at once."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("on_vm_tags_changed")
@bp.event_grid_trigger(arg_name="event")
def on_vm_tags_changed(event: func.EventGridEvent) -> None:
    from shared.enrollment import service as enrollment

    answer = enrollment.handle_trigger(event)
    log.info("event %s -> %s", event.id, answer.summary())
