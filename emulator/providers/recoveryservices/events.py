"""The ARM events Site Recovery's work causes.

Two kinds: the caller's own request (``.../replicationProtectedItems/unplannedFailover/action``,
``.../replicationRecoveryPlans/write``, ...), published when the ASR job completes and attributed to
the caller, with ``resourceUri`` as the caller addressed the resource; and the resources ASR itself
writes during a failover (the recovered VMs and NICs, their deletion at test-failover cleanup),
attributed to the Site Recovery service's identity, as ARM attributes them. Those carry the source
VM's tags (``asr-s2d=true`` included), which is why the app must never enroll a failed-over VM.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from emulator.core.events import ArmEvent
from emulator.core.http import ArmRequest
from emulator.core.identity import Principal

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
ACTION = "Microsoft.Resources.ResourceActionSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"

#: The Site Recovery service's identity in the tenant (what ARM names as the caller of its writes).
SITE_RECOVERY = Principal(object_id="2f7f1c6e-7c1b-4d7e-9a55-b6a8e2d0c5a1",
                          app_id="b8340c3b-9267-498f-b21a-15d5547fd85e")


@dataclass(frozen=True)
class Notice:
    event_type: str
    operation_name: str
    resource_uri: str
    method: str


@dataclass
class Changes:
    """What a job wrote outside the vault, to be announced when it completes."""

    notices: list[Notice] = field(default_factory=list)

    def wrote(self, resource_id: str, resource_type: str) -> None:
        self.notices.append(Notice(WRITE, f"{resource_type}/write", resource_id, "PUT"))

    def deleted(self, resource_id: str, resource_type: str) -> None:
        self.notices.append(Notice(DELETE, f"{resource_type}/delete", resource_id, "DELETE"))


def announce(req: ArmRequest, changes: Changes) -> None:
    """Publish what Site Recovery wrote, as its own identity (not the caller's)."""
    for notice in changes.notices:
        req.ctx.events.publish(ArmEvent(
            event_type=notice.event_type, operation_name=notice.operation_name, resource_uri=notice.resource_uri,
            subscription_id=notice.resource_uri.split("/")[2], principal=SITE_RECOVERY,
            correlation_id=req.correlation_id, http_method=notice.method,
            url=f"{req.base_url}{urllib.parse.quote(notice.resource_uri)}"))


def caller_event(req: ArmRequest, *, operation_name: str, resource_uri: str, event_type: str,
                 status: str = "Succeeded") -> None:
    req.ctx.emit(req, operation_name=operation_name, resource_uri=resource_uri, event_type=event_type, status=status)
