"""Tokens: the managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER protocol) and bearer checks.

Tokens are unsigned JWTs the emulator issues; ARM requests carry them and the emulator reads the
caller's object ID from them, so events name the principal that caused a write (the app must
ignore its own).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass

from emulator.core.errors import ArmError

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_PRINCIPAL_ID = "5b8c2d1e-0a3f-4b6c-9d7e-1f2a3b4c5d6e"
OPERATOR_PRINCIPAL_ID = "9e1d3c5a-7b2f-4e8d-a6c1-0f9b8a7d6c5e"


@dataclass(frozen=True)
class Principal:
    object_id: str
    app_id: str
    tenant_id: str = TENANT_ID
    kind: str = "ServicePrincipal"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue_token(principal: Principal, *, resource: str = "https://management.azure.com/",
                lifetime: int = 3600) -> tuple[str, int]:
    now = int(time.time())
    expires = now + lifetime
    header = {"alg": "none", "typ": "JWT"}
    claims = {
        "aud": resource.rstrip("/"),
        "iss": f"https://sts.windows.net/{principal.tenant_id}/",
        "iat": now, "nbf": now, "exp": expires,
        "appid": principal.app_id,
        "oid": principal.object_id,
        "sub": principal.object_id,
        "tid": principal.tenant_id,
        "idtyp": "app" if principal.kind == "ServicePrincipal" else "user",
    }
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
    return token, expires


def principal_from_authorization(header: str | None) -> tuple[Principal, dict[str, object]]:
    """The caller of an ARM request; a missing or malformed token is ARM's 401."""
    if not header or not header.lower().startswith("bearer "):
        raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                       headers={"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common"'})
    token = header[7:].strip()
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        principal = Principal(object_id=str(claims["oid"]), app_id=str(claims.get("appid", claims["oid"])),
                              tenant_id=str(claims.get("tid", TENANT_ID)))
    except (IndexError, ValueError, KeyError, TypeError):
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.") from None
    if int(claims.get("exp", 0)) < time.time():
        raise ArmError(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
    return principal, claims


def app_principal() -> Principal:
    return Principal(object_id=APP_PRINCIPAL_ID, app_id="d3b07384-d9a0-4c9b-8f1e-2a6b5c4d3e2f")


def operator_principal() -> Principal:
    return Principal(object_id=OPERATOR_PRINCIPAL_ID, app_id="0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5", kind="User")


def new_client_request_id() -> str:
    return str(uuid.uuid4())
