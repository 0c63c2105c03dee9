"""Azurite (real blob server): leases and etag-conditional writes, raw and through the app's gateway."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError

from shared.azure.blobs import BlobGateway, EtagMismatch, LeaseHeld
from shared.azure.clients import Clients
from shared.config import Settings
from shared.state import ClusterLock
from tests.unit.test_config import VALID


@pytest.fixture
def container(blob_service: Any) -> Any:
    client = blob_service.get_container_client(f"c{uuid.uuid4().hex[:16]}")
    client.create_container()
    return client


def test_second_lease_acquire_fails(container: Any) -> None:
    blob = container.get_blob_client("lock")
    blob.upload_blob(b"")
    first = blob.acquire_lease(lease_duration=15)
    with pytest.raises(HttpResponseError) as err:
        blob.acquire_lease(lease_duration=15)
    assert err.value.status_code == 409
    first.release()
    blob.acquire_lease(lease_duration=15).release()


def test_etag_conditional_write(container: Any) -> None:
    blob = container.get_blob_client("doc.json")
    etag = blob.upload_blob(b"{}")["etag"]
    blob.upload_blob(b'{"a":1}', overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
    with pytest.raises(ResourceModifiedError):
        blob.upload_blob(b'{"a":2}', overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)


@pytest.fixture
def gateway(azurite_server: Any) -> BlobGateway:
    settings = Settings.from_env({**VALID, "STATE_STORAGE_CONNECTION_STRING": azurite_server.connection_string,
                                  "STATE_CONTAINER": f"g{uuid.uuid4().hex[:16]}"})
    return BlobGateway(Clients(settings), settings.state_container)


def test_gateway_conditional_json_and_leases(gateway: BlobGateway) -> None:
    etag = gateway.put_json("a.json", {"v": 1}, if_none_match=True)
    with pytest.raises(EtagMismatch):
        gateway.put_json("a.json", {"v": 2}, if_none_match=True)
    gateway.put_json("a.json", {"v": 2}, if_match=etag)
    with pytest.raises(EtagMismatch):
        gateway.put_json("a.json", {"v": 3}, if_match=etag)
    doc = gateway.get_json("a.json")
    assert doc is not None and doc.body == {"v": 2}
    assert gateway.get_json("missing.json") is None
    lease = gateway.acquire_lease("locks/x", 15)
    with pytest.raises(LeaseHeld):
        gateway.acquire_lease("locks/x", 15)
    gateway.release(lease)


def test_cluster_lock_waits_then_gives_up_as_transient(gateway: BlobGateway) -> None:
    from shared.errors import TransientError

    held = ClusterLock(gateway, "sub/clu", seconds=15, wait_seconds=0.5)
    with held, pytest.raises(TransientError, match="held by another instance"), \
            ClusterLock(gateway, "sub/clu", seconds=15, wait_seconds=0.5):
        pass
    with ClusterLock(gateway, "sub/clu", seconds=15, wait_seconds=0.5) as lock:
        lock.check()
