"""Queue trigger: the worker. One message is one bounded step of one work item (``shared.work.worker``)."""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("on_work")
@bp.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="WORK_QUEUE_CONNECTION")
def on_work(msg: func.QueueMessage) -> None:
    from shared.runtime import default_runtime
    from shared.work import worker

    what = worker.handle_message(default_runtime(), message_body(msg), dequeue_count=msg.dequeue_count or 1)
    log.info("work message %s (delivery %s) -> %s", msg.id, msg.dequeue_count, what)


def message_body(msg: func.QueueMessage) -> Any:
    """The message's JSON, or its text when it holds no JSON (the worker refuses it, recorded)."""
    try:
        return msg.get_json()
    except ValueError:
        return msg.get_body().decode("utf-8", errors="replace")[:200]
