"""Event decoding in both schemas, through the azure-functions converter the Functions host uses."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest

from emulator.delivery import as_trigger_event
from shared import events
from shared.errors import RejectedInput

VM = ("/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourcegroups/rg-s2d-prod/providers/"
      "Microsoft.Compute/virtualMachines/s2d-node1")
DATA = {"operationName": "Microsoft.Resources/tags/write", "resourceUri": VM + "/providers/Microsoft.Resources/tags/default",
        "subscriptionId": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", "correlationId": "c1", "status": "Succeeded",
        "claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier": "oid-1"}}


def grid(**over: Any) -> dict[str, Any]:
    return {"id": "e1", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": DATA["resourceUri"],
            "eventTime": "2026-11-24T10:00:00Z", "data": DATA, "dataVersion": "", "metadataVersion": "1", **over}


def cloud(**over: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": "e2", "type": "Microsoft.Resources.ResourceWriteSuccess",
            "source": "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", "subject": DATA["resourceUri"],
            "time": "2026-11-24T10:00:00Z", "data": DATA, **over}


def through_converter(body: dict[str, Any]) -> Any:
    return as_trigger_event(body)


@pytest.mark.parametrize("body,schema", [(grid(), "EventGridSchema"), (cloud(), "CloudEvents")])
def test_both_schemas_decode_to_one_value(body: dict[str, Any], schema: str) -> None:
    decoded = events.from_trigger(through_converter(body))
    assert decoded.schema == schema
    assert decoded.target_uri == VM
    assert decoded.caller_object_id == "oid-1" and decoded.correlation_id == "c1"
    assert events.from_dict(body) == decoded


def test_converter_builds_the_azure_functions_types() -> None:
    assert isinstance(through_converter(grid()), func.EventGridEvent)
    assert isinstance(through_converter(cloud()), func.CloudEvent)


@pytest.mark.parametrize("body,problem", [
    ([], "JSON object"),
    (grid(data="nope"), "data must be an object"),
    (grid(data={**DATA, "resourceUri": 7}), "must be a string"),
    (grid(data={k: v for k, v in DATA.items() if k != "resourceUri"}), "resourceUri is missing"),
    (grid(data={**DATA, "resourceUri": "/subscripti\u043ens/x"}), "characters"),
    (grid(data={**DATA, "resourceUri": "/tenants/x/providers/y"}), "not a subscription-scoped"),
    (grid(data={**DATA, "subscriptionId": "00000000-0000-0000-0000-000000000000"}), "does not match"),
    (grid(id=None), "id is missing"),
    (cloud(specversion="0.3"), "specversion"),
])
def test_malformed_events_are_rejected_with_a_reason(body: Any, problem: str) -> None:
    with pytest.raises(RejectedInput, match=problem):
        events.from_dict(body)


def test_payload_parsing() -> None:
    assert events.parse_payload(json.dumps(grid())) == [grid()]
    assert len(events.parse_payload(json.dumps([grid(), cloud()]))) == 2
    with pytest.raises(RejectedInput, match="not JSON"):
        events.parse_payload("{nope")
