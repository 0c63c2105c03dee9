"""Blob gateway: JSON documents with etag-conditional writes, and leases (the cluster locks).

Every document the app stores passes ``put_json``, which scrubs it (``shared.observability.scrub``): a record,
a report or a note never holds a key, a SAS or a token, whichever message carried one in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.azure.clients import Clients
from shared.errors import TransientError
from shared.observability import scrub


class LeaseHeld(TransientError):
    """Another instance holds the lease."""


class EtagMismatch(TransientError):
    """The document changed since it was read (or exists when it must not)."""


@dataclass(frozen=True)
class Document:
    name: str
    body: Any
    etag: str


class BlobGateway:
    def __init__(self, clients: Clients, container: str) -> None:
        self._clients = clients
        self._container_name = container
        self._ready = False

    @property
    def _container(self) -> Any:
        container = self._clients.blob_service().get_container_client(self._container_name)
        if not self._ready:
            from azure.core.exceptions import ResourceExistsError

            try:
                container.create_container()
            except ResourceExistsError:
                pass
            self._ready = True
        return container

    def get_json(self, name: str) -> Document | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            downloader = self._container.get_blob_client(name).download_blob()
            data = downloader.readall()
        except ResourceNotFoundError:
            return None
        return Document(name, json.loads(data), downloader.properties.etag)

    def put_json(self, name: str, body: Any, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Write a JSON document; ``if_match`` / ``if_none_match`` make it conditional (else it overwrites)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.storage.blob import ContentSettings

        data = json.dumps(scrub(body), indent=1, sort_keys=True, default=lambda value: scrub(str(value))).encode()
        kwargs: dict[str, Any] = {"overwrite": not if_none_match,
                                  "content_settings": ContentSettings(content_type="application/json")}
        if if_match:
            kwargs.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        try:
            result = self._container.get_blob_client(name).upload_blob(data, **kwargs)
        except (ResourceModifiedError, ResourceExistsError) as err:
            raise EtagMismatch(f"{name} changed concurrently") from err
        return str(result["etag"])

    def list_names(self, prefix: str, *, modified_since: datetime | None = None) -> list[str]:
        """The names under ``prefix`` (only those written at or after ``modified_since``: the list's own
        ``Last-Modified``, no read per blob)."""
        return [b.name for b in self._container.list_blobs(name_starts_with=prefix)
                if modified_since is None or b.last_modified is None or b.last_modified >= modified_since]

    # -- leases ---------------------------------------------------------------------------------
    def acquire_lease(self, name: str, seconds: int) -> Any:
        """A lease on the (empty) lock blob; ``LeaseHeld`` when another instance has it."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        blob = self._container.get_blob_client(name)
        try:
            blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass
        except HttpResponseError as err:
            if err.status_code != 412:  # a leased blob refuses the write: someone holds it
                raise
        try:
            return blob.acquire_lease(lease_duration=seconds)
        except HttpResponseError as err:
            if err.status_code == 409:
                raise LeaseHeld(f"lock {name} is held by another instance") from err
            raise

    @staticmethod
    def renew(lease: Any) -> None:
        lease.renew()

    @staticmethod
    def release(lease: Any) -> None:
        from azure.core.exceptions import HttpResponseError

        try:
            lease.release()
        except HttpResponseError:
            pass  # expired or lost: nothing to release
