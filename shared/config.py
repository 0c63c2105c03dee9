"""The one frozen settings object, read from app settings (environment) and validated once.

Every setting is declared once here, with its environment name, default and documentation; the
settings table of ``docs/deployment.md`` and ``local.settings.example.json`` are generated from these declarations
(``python -m shared.config --markdown``), so they cannot drift.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from shared.errors import SettingsError

# Whole values only (``fullmatch``): ``re.match`` with ``$`` would take a trailing newline.
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_REGION = re.compile(r"[a-z][a-z0-9]{2,30}")
_ID = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/\s]+(/providers/[^/\s]+/[^/\s]+/[^/\s]+)*",
                 re.IGNORECASE)  # no ARM name holds white space
CREDENTIALS = ("managed_identity", "default", "static")
# https://learn.microsoft.com/rest/api/storageservices/naming-queues-and-metadata: 3-63 characters, lowercase
# letters, digits and hyphens; starts and ends with a letter or digit; no two hyphens in a row.
_QUEUE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")


def _setting(env: str, doc: str, *, default: Any = MISSING, secret: bool = False, example: str = "",
             group: str = "general") -> Any:
    meta = {"env": env, "doc": doc, "secret": secret, "example": example, "group": group}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Settings:
    # -- where the app acts --------------------------------------------------------------------
    allowed_subscriptions: tuple[str, ...] = _setting(
        "ALLOWED_SUBSCRIPTION_IDS", "Comma-separated subscription IDs the app may act in; events from any other "
        "subscription are ignored.", example="6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", group="scope")
    vault_id: str = _setting(
        "VAULT_ID", "Resource ID of the Recovery Services vault. It must live in the target (DR) region.",
        example="/subscriptions/<sub>/resourceGroups/rg-s2d-dr/providers/Microsoft.RecoveryServices/vaults/rsv-s2d-dr",
        group="scope")
    target_region: str = _setting("TARGET_REGION", "The disaster-recovery region (Azure location name).",
                                  example="northeurope", group="scope")
    recovery_resource_group_id: str = _setting(
        "RECOVERY_RESOURCE_GROUP_ID", "Resource group in the target region that receives the recovery VMs, disks "
        "and the DR load balancer.", example="/subscriptions/<sub>/resourceGroups/rg-s2d-dr", group="scope")
    recovery_vnet_id: str = _setting(
        "RECOVERY_VNET_ID", "Virtual network in the target region the nodes fail over into (network mapping target).",
        example="/subscriptions/<sub>/resourceGroups/rg-s2d-dr/providers/Microsoft.Network/virtualNetworks/vnet-dr",
        group="scope")
    recovery_subnet_name: str = _setting(
        "RECOVERY_SUBNET_NAME", "Subnet of the recovery VNet for the nodes; empty = a subnet with the source "
        "subnet's name.", default="", example="snet-s2d", group="scope")
    test_vnet_id: str = _setting(
        "TEST_FAILOVER_VNET_ID", "Isolated VNet in the target region for test failovers and drills; empty disables "
        "drills.", default="", example="/subscriptions/<sub>/resourceGroups/rg-s2d-dr/providers/Microsoft.Network/"
        "virtualNetworks/vnet-dr-test", group="scope")
    failback_test_vnet_id: str = _setting(
        "FAILBACK_TEST_VNET_ID", "Isolated VNet in the clusters' original (source) region for drills of the way back: "
        "once a failed-over cluster is reprotected it replicates back there, and its drills test-fail it over into "
        "this VNet; empty = those drills are skipped with this reason.", default="",
        example="/subscriptions/<sub>/resourceGroups/rg-s2d-prod/providers/Microsoft.Network/virtualNetworks/"
        "vnet-prod-test", group="scope")
    cache_storage_account_id: str = _setting(
        "CACHE_STORAGE_ACCOUNT_ID", "Cache storage account for replication: same region and subscription as the "
        "source VMs, shared-key access allowed.", example="/subscriptions/<sub>/resourceGroups/rg-s2d-prod/providers/"
        "Microsoft.Storage/storageAccounts/stasrcachewe01", group="scope")
    dr_cache_storage_account_id: str = _setting(
        "DR_CACHE_STORAGE_ACCOUNT_ID", "Cache storage account in the target region, used to reprotect (fail back) "
        "after a committed failover; empty = reprotect is only reported.", default="", group="scope")
    # -- replication --------------------------------------------------------------------------
    policy_name: str = _setting(
        "REPLICATION_POLICY_NAME", "Name of the dedicated crash-consistent replication policy the app owns.",
        default="asr-s2d-crash-consistent", group="replication")
    recovery_point_retention_minutes: int = _setting(
        "RECOVERY_POINT_RETENTION_MINUTES", "How long recovery points are kept (minutes, 0-21600).",
        default=1440, group="replication")
    # -- safety switches ------------------------------------------------------------------------
    dry_run: bool = _setting("DRY_RUN", "Record plans and write nothing.", default=False, group="safety")
    allow_disable_replication: bool = _setting(
        "ALLOW_DISABLE_REPLICATION", "Allow the app to disable replication of a node (needed to move a node "
        "protected outside its cluster's group). Off: such nodes are only reported.", default=False, group="safety")
    audit_repair: bool = _setting(
        "AUDIT_REPAIR", "Let the drift audit repair what is safe (enroll unprotected nodes into the existing group, "
        "restore pool mappings, create a missing recovery plan or DR load balancer). Never disables or deletes.",
        default=False, group="safety")
    audit_reassign_ip: bool = _setting(
        "AUDIT_REASSIGN_IP", "Let the drift audit run the post-failover IP step for a failover no signal announced.",
        default=False, group="safety")
    allow_reprotect: bool = _setting(
        "ALLOW_REPROTECT", "Let the app reprotect a cluster after a committed failover (needs "
        "DR_CACHE_STORAGE_ACCOUNT_ID).", default=False, group="safety")
    app_principal_id: str = _setting(
        "APP_PRINCIPAL_ID", "Object ID of the app's managed identity; events it caused are ignored so its own "
        "writes never loop.", default="", group="safety")
    # -- audit and drills -----------------------------------------------------------------------
    rpo_threshold_seconds: int = _setting(
        "RPO_THRESHOLD_SECONDS", "RPO above which the audit reports a node.", default=1800, group="audit")
    test_failover_max_age_days: int = _setting(
        "TEST_FAILOVER_MAX_AGE_DAYS", "Age of the last successful test failover above which the audit reports a "
        "cluster.", default=180, group="audit")
    drift_audit_schedule: str = _setting(
        "DRIFT_AUDIT_SCHEDULE", "NCRONTAB schedule of the drift audit (read by the Functions host).",
        default="0 0 * * * *", group="audit")
    audit_period_minutes: int = _setting(
        "AUDIT_PERIOD_MINUTES", "How often DRIFT_AUDIT_SCHEDULE runs the audit, in minutes: a report older than two "
        "periods marks the status page stale and critical (the audit stopped running, or cannot read Azure).",
        default=60, group="audit")
    runbook_required: bool = _setting(
        "RUNBOOK_REQUIRED", "Report (critical) every recovery plan whose Boot group has no post-action runbook: set it "
        "once the failover runbook (shared/scripts/runbook) is part of your runbook, so an update that lost it is "
        "seen.", default=False, group="audit")
    drill_schedule: str = _setting(
        "DRILL_SCHEDULE", "NCRONTAB schedule of the monthly drills (read by the Functions host).",
        default="0 0 3 1 * *", group="audit")
    drill_all_clusters: bool = _setting(
        "DRILL_ALL_CLUSTERS", "Drill every enrolled cluster, not only those tagged asr-s2d-drill=monthly.",
        default=False, group="audit")
    drill_guest_wait_minutes: int = _setting(
        "DRILL_GUEST_WAIT_MINUTES", "How long a drill waits, after its test failover, for the test nodes' guest to be "
        "ready (VM agent Ready, cluster service running, storage resynced) before it records the in-guest checks as "
        "they stand; minutes of the drill's own run, within DRILL_MAX_MINUTES.",
        default=15, group="audit")
    drill_concurrency: int = _setting(
        "DRILL_CONCURRENCY", "Most drills running at once per vault (1-20).",
        default=2, group="audit")
    drill_max_minutes: int = _setting(
        "DRILL_MAX_MINUTES", "A drill still running this many minutes after its start is cleaned up and recorded "
        "failed.", default=240, group="audit")
    # -- state and notifications ----------------------------------------------------------------
    state_connection_string: str = _setting(
        "STATE_STORAGE_CONNECTION_STRING", "Connection string of the state storage account (locks, outcomes, "
        "reports). Leave empty in Azure and set STATE_STORAGE_ACCOUNT_URL to use the managed identity.",
        default="", secret=True, group="state")
    state_account_url: str = _setting(
        "STATE_STORAGE_ACCOUNT_URL", "Blob endpoint of the state storage account, used with the managed identity.",
        default="", example="https://stasrs2dstate.blob.core.windows.net", group="state")
    state_container: str = _setting("STATE_CONTAINER", "Blob container for locks, outcomes and reports.",
                                    default="asr-s2d", group="state")
    evidence_container: str = _setting(
        "EVIDENCE_CONTAINER", "Blob container (same account) that receives a write-once copy of every audit report and "
        "drill record: the evidence an auditor accepts (the Bicep gives it a time-based retention policy, so nothing "
        "there can be changed or deleted before it expires); empty = no copy.", default="", example="evidence",
        group="state")
    status_page_auth: str = _setting(
        "STATUS_PAGE_AUTH", "How the status page is opened: key (its function key, ?code=) or entra (Microsoft Entra ID "
        "sign-in through App Service authentication instead of the key; the Bicep sets it with statusPageEntraClientId; "
        "a request App Service did not sign in is refused). Read when the host indexes the functions.",
        default="key", group="state")
    topic_endpoint: str = _setting(
        "EVENT_GRID_TOPIC_ENDPOINT", "Custom Event Grid topic for outcomes and drift events; empty = none.",
        default="", group="state")
    topic_key: str = _setting("EVENT_GRID_TOPIC_KEY", "Access key of that topic; empty = use the managed identity.",
                              default="", secret=True, group="state")
    # -- the work queue ---------------------------------------------------------------------------
    work_queue: str = _setting(
        "WORK_QUEUE", "Storage queue the triggers enqueue long work on and the worker reads, one bounded step per "
        "message; its poison queue has the same name plus -poison (the Functions host's convention).",
        default="asr-s2d-work", group="work")
    work_queue_connection_string: str = _setting(
        "WORK_QUEUE_CONNECTION", "Connection string of the work queue's storage account, for local runs. Leave empty "
        "in Azure and set WORK_QUEUE_CONNECTION__queueServiceUri to use the managed identity. Empty too, with a "
        "STATE_STORAGE_CONNECTION_STRING that names a QueueEndpoint: the app uses that one (the queue trigger reads "
        "WORK_QUEUE_CONNECTION only).", default="", secret=True, group="work")
    work_queue_url: str = _setting(
        "WORK_QUEUE_CONNECTION__queueServiceUri", "Queue endpoint of the work queue's storage account, used with the "
        "managed identity (the Functions identity-based connection format: the queue trigger's "
        "connection=WORK_QUEUE_CONNECTION and the app read the same settings).", default="",
        example="https://stasrs2dstate.queue.core.windows.net", group="work")
    work_max_dequeue: int = _setting(
        "WORK_MAX_DEQUEUE", "Deliveries of a work message without success before it goes to the poison queue; must "
        "equal host.json's extensions.queues.maxDequeueCount.", default=5, group="work")
    # -- Azure connection -----------------------------------------------------------------------
    arm_endpoint: str = _setting("ARM_ENDPOINT", "Azure Resource Manager endpoint.",
                                 default="https://management.azure.com", group="connection")
    arm_ca_bundle: str = _setting(
        "ARM_CA_BUNDLE", "PEM file of extra CAs to trust for ARM (the local emulator only); empty = system trust.",
        default="", group="connection")
    credential: str = _setting(
        "AZURE_CREDENTIAL", "managed_identity (in Azure), default (DefaultAzureCredential) or static (a fixed token "
        "from ARM_STATIC_TOKEN, accepted only with a loopback ARM_ENDPOINT).", default="managed_identity",
        group="connection")
    static_token: str = _setting("ARM_STATIC_TOKEN", "Token for the static credential (loopback only).",
                                 default="", secret=True, group="connection")
    arm_polling_interval: float = _setting(
        "ARM_POLLING_INTERVAL", "Seconds between polls of a long-running operation when ARM sends no Retry-After.",
        default=10.0, group="connection")
    arm_retry_total: int = _setting("ARM_RETRY_TOTAL", "Retries of a throttled or failed ARM call (azure-core).",
                                    default=6, group="connection")
    arm_max_concurrency: int = _setting(
        "ARM_MAX_CONCURRENCY", "Most ARM calls in flight per subscription from one instance.", default=8,
        group="connection")
    lease_seconds: int = _setting("LOCK_LEASE_SECONDS", "Duration of a cluster lock lease (15-60; renewed while "
                                  "working).", default=60, group="connection")
    # -- observability ------------------------------------------------------------------------------
    appinsights_connection_string: str = _setting(
        "APPLICATIONINSIGHTS_CONNECTION_STRING", "Application Insights connection string. Set: the Functions host "
        "sends its telemetry there and the app exports its own logs through OpenTelemetry, with event_id, "
        "correlation_id and cluster as custom dimensions. Empty: no export.", default="", group="observability")

    @property
    def arm_is_loopback(self) -> bool:
        host = urllib.parse.urlsplit(self.arm_endpoint).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def work_queue_connection(self) -> str:
        """The connection string the work queue is reached with: WORK_QUEUE_CONNECTION, else the state account's
        when it names a QueueEndpoint (Azurite's does); empty = the managed identity at the queue endpoint
        ``WORK_QUEUE_CONNECTION__queueServiceUri``."""
        if self.work_queue_connection_string:
            return self.work_queue_connection_string
        if "queueendpoint=" in self.state_connection_string.lower():
            return self.state_connection_string
        return ""

    @property
    def vault_subscription(self) -> str:
        return self.vault_id.split("/")[2]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse and validate; the first problem raises ``SettingsError`` naming the setting."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                if f.default is MISSING:
                    raise SettingsError(f"{name} is required: {f.metadata['doc']}")
                continue
            values[f.name] = _PARSERS.get(f.name, _parser_for(f.type))(name, raw.strip())
        settings = cls(**values)
        settings._validate()
        return settings

    def _validate(self) -> None:
        def check(ok: bool, env: str, problem: str) -> None:
            if not ok:
                raise SettingsError(f"{env}: {problem}")

        check(all(_GUID.fullmatch(s) for s in self.allowed_subscriptions), "ALLOWED_SUBSCRIPTION_IDS",
              "every entry must be a subscription GUID")
        for attr, env, rtype in (("vault_id", "VAULT_ID", "microsoft.recoveryservices/vaults"),
                                 ("recovery_vnet_id", "RECOVERY_VNET_ID", "microsoft.network/virtualnetworks"),
                                 ("test_vnet_id", "TEST_FAILOVER_VNET_ID", "microsoft.network/virtualnetworks"),
                                 ("failback_test_vnet_id", "FAILBACK_TEST_VNET_ID", "microsoft.network/virtualnetworks"),
                                 ("cache_storage_account_id", "CACHE_STORAGE_ACCOUNT_ID", "microsoft.storage/storageaccounts"),
                                 ("dr_cache_storage_account_id", "DR_CACHE_STORAGE_ACCOUNT_ID",
                                  "microsoft.storage/storageaccounts")):
            value = getattr(self, attr)
            if value:
                parts = value.lower().split("/")
                check(bool(_ID.fullmatch(value)) and len(parts) == 9 and f"{parts[6]}/{parts[7]}" == rtype, env,
                      f"must be the resource ID of a {rtype.split('/')[1][:-1]}, got {value!r}")
        check(bool(_ID.fullmatch(self.recovery_resource_group_id)) and len(self.recovery_resource_group_id.split("/")) == 5,
              "RECOVERY_RESOURCE_GROUP_ID", "must be a resource group ID (/subscriptions/<id>/resourceGroups/<name>)")
        check(bool(_REGION.fullmatch(self.target_region)), "TARGET_REGION", "must be an Azure location name like northeurope")
        check(0 <= self.recovery_point_retention_minutes <= 21600, "RECOVERY_POINT_RETENTION_MINUTES",
              "must be between 0 and 21600 (15 days)")
        check(self.credential in CREDENTIALS, "AZURE_CREDENTIAL", f"must be one of {', '.join(CREDENTIALS)}")
        check(self.credential != "static" or (self.arm_is_loopback and bool(self.static_token)), "AZURE_CREDENTIAL",
              "static is accepted only with a loopback ARM_ENDPOINT and an ARM_STATIC_TOKEN")
        check(self.arm_endpoint.startswith("https://"), "ARM_ENDPOINT", "must be an https:// URL")
        check(not self.arm_ca_bundle or os.path.isfile(self.arm_ca_bundle), "ARM_CA_BUNDLE",
              f"no such file: {self.arm_ca_bundle}")
        check(bool(self.state_connection_string or self.state_account_url), "STATE_STORAGE_ACCOUNT_URL",
              "set it (or STATE_STORAGE_CONNECTION_STRING) so locks and outcomes can be stored")
        check(not self.app_principal_id or bool(_GUID.fullmatch(self.app_principal_id)), "APP_PRINCIPAL_ID",
              "must be an object ID (GUID)")
        check(15 <= self.lease_seconds <= 60, "LOCK_LEASE_SECONDS", "must be between 15 and 60 (blob lease limits)")
        check(1 <= self.arm_max_concurrency <= 64, "ARM_MAX_CONCURRENCY", "must be between 1 and 64")
        check(0 <= self.arm_retry_total <= 20, "ARM_RETRY_TOTAL", "must be between 0 and 20")
        check(self.rpo_threshold_seconds > 0, "RPO_THRESHOLD_SECONDS", "must be positive")
        check(self.test_failover_max_age_days > 0, "TEST_FAILOVER_MAX_AGE_DAYS", "must be positive")
        check(self.audit_period_minutes > 0, "AUDIT_PERIOD_MINUTES", "must be positive")
        check(self.status_page_auth in ("key", "entra"), "STATUS_PAGE_AUTH", "must be key or entra")
        check(0 <= self.drill_guest_wait_minutes <= 30, "DRILL_GUEST_WAIT_MINUTES",
              "must be between 0 and 30 (a drill also waits for its test failover and its cleanup)")
        check(1 <= self.drill_concurrency <= 20, "DRILL_CONCURRENCY", "must be between 1 and 20")
        check(self.drill_max_minutes > 0, "DRILL_MAX_MINUTES", "must be positive")
        check(self.work_max_dequeue > 0, "WORK_MAX_DEQUEUE", "must be positive")
        check(_QUEUE_NAME.fullmatch(self.work_queue) is not None and len(self.work_queue) <= 63 - len("-poison"),
              "WORK_QUEUE", "must be a valid queue name (lowercase letters, digits and single hyphens) of 3 to 56 "
              "characters, so that its poison queue's name is valid too")
        check(bool(self.work_queue_connection or self.work_queue_url), "WORK_QUEUE_CONNECTION__queueServiceUri",
              "set it (or WORK_QUEUE_CONNECTION) so work can be queued")
        check(not self.work_queue_url or self.work_queue_url.startswith("https://"),
              "WORK_QUEUE_CONNECTION__queueServiceUri", "must be an https:// URL (the managed identity's token "
              "travels only over TLS)")
        container_name = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])")
        check(container_name.fullmatch(self.state_container) is not None, "STATE_CONTAINER",
              "must be a valid blob container name")
        check(not self.evidence_container or container_name.fullmatch(self.evidence_container) is not None,
              "EVIDENCE_CONTAINER", "must be a valid blob container name")
        check(self.evidence_container != self.state_container, "EVIDENCE_CONTAINER",
              "must differ from STATE_CONTAINER (the state container is rewritten all the time)")

    def allows_subscription(self, subscription_id: str) -> bool:
        return subscription_id.lower() in {s.lower() for s in self.allowed_subscriptions}


def _parse_bool(env: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{env}: must be true or false, got {raw!r}")


def _parse_int(env: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{env}: must be a whole number, got {raw!r}") from None


def _parse_float(env: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{env}: must be a number, got {raw!r}") from None


def _parse_list(env: str, raw: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not items:
        raise SettingsError(f"{env}: must list at least one value")
    return items


def _parse_str(env: str, raw: str) -> str:
    return raw


def _parser_for(annotation: Any) -> Callable[[str, str], Any]:
    return {"bool": _parse_bool, "int": _parse_int, "float": _parse_float,
            "tuple[str, ...]": _parse_list}.get(str(annotation), _parse_str)


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "target_region": lambda env, raw: raw.lower().replace(" ", ""),
}


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, parsed on first use (not at import: cold start stays cheap)."""
    return Settings.from_env()


def settings_table() -> str:
    """The settings table of ``docs/deployment.md``, generated from the declarations above."""
    rows = ["| setting | default | what it does |", "|---|---|---|"]
    for f in fields(Settings):
        default = "*(required)*" if f.default is MISSING else f"`{_render_default(f.default)}`"
        secret = " **Secret:** keep it in Key Vault references." if f.metadata["secret"] else ""
        rows.append(f"| `{f.metadata['env']}` | {default} | {f.metadata['doc']}{secret} |")
    return "\n".join(rows)


def _render_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if value != "" else '""'


def example_values() -> dict[str, str]:
    """``local.settings.example.json`` values: examples for required settings, defaults for the rest."""
    out: dict[str, str] = {}
    for f in fields(Settings):
        if f.metadata["secret"]:
            out[f.metadata["env"]] = ""
        elif f.default is MISSING or f.metadata["example"]:
            out[f.metadata["env"]] = f.metadata["example"]
        else:
            out[f.metadata["env"]] = _render_default(f.default).strip('"')
    return out


if __name__ == "__main__":
    import sys

    print(settings_table() if "--markdown" in sys.argv else example_values())
