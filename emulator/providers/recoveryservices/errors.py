"""Azure Site Recovery's errors: the codes the rules raise and ASR's error envelope.

ASR's front end answers with ARM's ``{"error": {...}}`` envelope, but its error objects carry the
same fields as its job errors (``ServiceError``): ``code``, ``message``, ``possibleCauses``,
``recommendedAction`` and ``activityId``. A rule broken at request time is a synchronous 400/409; a
job that fails carries the same object in ``errors[].serviceErrorDetails`` and in the long-running
operation's status, so the SDK's ``HttpResponseError.error.code`` is the same either way.

Where the public material names a real ASR code (``VMDisksMissing``) it is used; the others are
descriptive codes in ASR's style, one per rule, so tests and the app can tell the rules apart.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.core.errors import ArmError

# One code per rule (tests assert on these; the app maps them to permanent errors).
VAULT_IN_SOURCE_REGION = "VaultInSourceRegion"
CONTAINER_MAPPING_NOT_FOUND = "ProtectionContainerMappingNotFound"
POLICY_NOT_FOUND = "PolicyNotFound"
MULTI_VM_GROUP_LIMIT = "MultiVmGroupVmCountLimitExceeded"
VM_ALREADY_PROTECTED = "VmAlreadyProtected"
VM_NOT_RUNNING = "VmNotRunning"
INVALID_CACHE_STORAGE = "InvalidCacheStorageAccount"
GROUP_FAILOVER_REQUIRED = "MultiVmGroupFailoverRequiresRecoveryPlan"
TEST_FAILOVER_IN_PROGRESS = "TestFailoverAlreadyInProgress"
NO_TEST_FAILOVER = "NoTestFailoverToCleanup"
COMMIT_BEFORE_FAILOVER = "FailoverNotCompleted"
REPROTECT_BEFORE_COMMIT = "FailoverNotCommitted"
FABRIC_EXISTS_FOR_LOCATION = "FabricAlreadyExistsForLocation"
OPERATION_NOT_ALLOWED = "OperationNotAllowedInCurrentState"
INVALID_INPUT = "InvalidProviderSpecificInput"
VM_DISKS_MISSING = "VMDisksMissing"
NOT_FOUND = "ResourceNotFound"
RECOVERY_RESOURCE_CONFLICT = "RecoveryResourceAlreadyExists"
PLANNED_FAILOVER_NOT_SUPPORTED = "PlannedFailoverNotSupportedForAzureToAzure"
SWITCH_PROTECTION_REQUIRED = "ManagedDiskReprotectRequiresSwitchProtection"
PLAN_REPROTECT_NOT_SUPPORTED = "RecoveryPlanReprotectNotSupportedForAzureToAzure"
INVALID_RECOVERY_AVAILABILITY_SET = "InvalidRecoveryAvailabilitySet"
INVALID_RECOVERY_ZONE = "InvalidRecoveryAvailabilityZone"
INVALID_RECOVERY_PPG = "InvalidRecoveryProximityPlacementGroup"
AVAILABILITY_SET_AND_ZONE = "RecoveryAvailabilitySetAndZoneConflict"
MULTI_VM_GROUP_ID_MISMATCH = "MultiVmGroupIdMismatch"


def planned_failover_not_supported() -> AsrError:
    """Azure-to-Azure has no planned failover: ``PlannedFailoverProviderSpecificFailoverInput``'s members are Hyper-V
    and InMage ones, none A2A (azure-rest-api-specs, recoveryservicessiterecovery service.json), and Microsoft's
    failback tutorial (articles/site-recovery/azure-to-azure-tutorial-failback.md) fails back with a failover whose
    source machines are shut down first (``sourceSiteOperations: Required``)."""
    return bad_request(PLANNED_FAILOVER_NOT_SUPPORTED,
                       "Planned failover is not supported for Azure virtual machines replicated to another region.",
                       causes="Azure-to-Azure replication (A2A) offers only unplanned failover.",
                       action="Use unplannedFailover, with sourceSiteOperations 'Required' to shut the source "
                              "virtual machines down first.")


def switch_protection_required(item_name: str) -> AsrError:
    """An Azure-to-Azure item with managed disks is reprotected by switching protection, not by ``reProtect``:
    ``A2AReprotectInput`` has only ``vmDisks`` (``A2AVmDiskInputDetails``: a VHD ``diskUri`` and its storage
    account), no managed-disk member, while ``A2ASwitchProtectionInput`` has ``vmManagedDisks`` (azure-rest-api-specs,
    specification/recoveryservicessiterecovery/resource-manager/Microsoft.RecoveryServices/stable/2025-01-01/service.json);
    Microsoft's own tooling sends every A2A item through ``switchprotection`` (azure-powershell
    src/RecoveryServices/RecoveryServices.SiteRecovery/ReplicationProtectedItem/
    UpdateAzureRmRecoveryServicesAsrProtectionDirection.cs, ``A2ARPIReprotect``; the az CLI's
    ``site-recovery protection-container switch-protection`` A2A example, Azure/aaz
    Commands/site-recovery/protection-container/_switch-protection.md)."""
    return bad_request(SWITCH_PROTECTION_REQUIRED,
                       f"The replicated item '{item_name}' replicates managed disks: reprotect it with switch "
                       "protection.",
                       causes="Reprotect input (A2AReprotectInput.vmDisks) describes unmanaged disks only.",
                       action="POST .../replicationProtectionContainers/{container}/switchprotection with "
                              "A2ASwitchProtectionInput and the failed-over virtual machine's vmManagedDisks.")


def plan_reprotect_not_supported(plan_name: str) -> AsrError:
    """A recovery plan of Azure-to-Azure items is not reprotected as a plan: azure-powershell refuses a plan whose
    replication providers include A2A (``SetRPReprotect``, ``UnsupportedReplicationProviderForReprotect`` in
    src/RecoveryServices/RecoveryServices.SiteRecovery/ReplicationProtectedItem/
    UpdateAzureRmRecoveryServicesAsrProtectionDirection.cs) and reprotects each item with switch protection."""
    return bad_request(PLAN_REPROTECT_NOT_SUPPORTED,
                       f"The recovery plan '{plan_name}' holds Azure virtual machines replicated to another region; "
                       "a recovery plan of them cannot be reprotected as a whole.",
                       causes="Azure-to-Azure (A2A) items are reprotected one by one, with switch protection.",
                       action="Reprotect each replicated item: POST .../replicationProtectionContainers/{container}/"
                              "switchprotection with A2ASwitchProtectionInput.")


class AsrError(ArmError):
    """An ASR error: ARM's envelope with ASR's ``possibleCauses`` / ``recommendedAction``."""

    def __init__(self, status: int, code: str, message: str, *, possible_causes: str = "",
                 recommended_action: str = "") -> None:
        super().__init__(status, code, message)
        self.possible_causes = possible_causes
        self.recommended_action = recommended_action
        self.activity_id = str(uuid.uuid4())

    def service_error(self) -> dict[str, Any]:
        """The ``ServiceError`` object ASR puts in envelopes and job errors alike."""
        return {"code": self.code, "message": self.message, "possibleCauses": self.possible_causes,
                "recommendedAction": self.recommended_action, "activityId": self.activity_id}

    def envelope(self) -> dict[str, Any]:
        return {"error": self.service_error()}


def bad_request(code: str, message: str, *, causes: str = "", action: str = "") -> AsrError:
    return AsrError(400, code, message, possible_causes=causes, recommended_action=action)


def conflict(code: str, message: str, *, causes: str = "", action: str = "") -> AsrError:
    return AsrError(409, code, message, possible_causes=causes, recommended_action=action)


def not_found(kind: str, name: str) -> AsrError:
    return AsrError(404, NOT_FOUND, f"The {kind} '{name}' was not found in the vault.",
                    recommended_action=f"Check the {kind} name and retry.")


def invalid_input(message: str) -> AsrError:
    return bad_request(INVALID_INPUT, message, action="Correct the request input and retry.")
