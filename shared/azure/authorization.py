"""Authorization gateway: what the identity asr-s2d runs as may do at a scope (``Microsoft.Authorization/permissions``).

ARM answers for a resource group or for a resource, never a subscription: "Gets all permissions the caller has for a
resource group" / "for a resource" (REST reference, Authorization ``Permissions - List For Resource Group`` and
``List For Resource``, api-version 2022-04-01). The answer is about the caller: run by an operator's credential, it
tells the operator's permissions, not the app's. Reading it needs ``Microsoft.Authorization/permissions/read``
("Lists all the permissions the caller has at a given scope", Azure resource provider operations).
"""

from __future__ import annotations

from shared.azure.clients import Clients
from shared.azure.errors import read_raw_pages
from shared.inventory import Permission

PERMISSIONS_API_VERSION = "2022-04-01"


class AuthorizationGateway:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def permissions_at(self, scope_id: str) -> tuple[Permission, ...]:
        """The caller's permissions at a resource group or resource ID (every page); errors translated (a 403 when
        the caller may not even read them there)."""
        subscription = scope_id.split("/")[2] if scope_id.lower().startswith("/subscriptions/") else ""
        raw = read_raw_pages(f"read permissions at {scope_id.rsplit('/', 1)[-1] or scope_id}",
                             self._clients.resources(subscription),
                             f"{scope_id.rstrip('/')}/providers/Microsoft.Authorization/permissions"
                             f"?api-version={PERMISSIONS_API_VERSION}")
        return tuple(Permission(actions=tuple(str(a) for a in p.get("actions") or ()),
                                not_actions=tuple(str(a) for a in p.get("notActions") or ())) for p in raw)
