"""Event Grid trigger: a VM's (or its availability set's or resource group's) tags changed."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("on_vm_tags_changed")
@bp.event_grid_trigger(arg_name="event")
def on_vm_tags_changed(event: func.EventGridEvent) -> None:
    from shared.enrollment import service as enrollment

    outcome = enrollment.handle_trigger(event)
    log.info("event %s -> %s (%s)", event.id, outcome.kind, outcome.reason)
