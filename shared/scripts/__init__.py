"""PowerShell scripts the app runs outside itself: in cluster nodes (Run Command) and in Azure Automation.

``lines`` loads a shipped script exactly as in its file: Run Command takes the script as an array of
lines, and values only in its ``parameters`` (never pasted into these lines).
"""

from __future__ import annotations

import functools
import importlib.resources

SET_CLUSTER_IP = "set_cluster_ip.ps1"  # the IP step after a failover (SubnetPrefix, IPAddress, ProbePort, RoleAddresses)
CLUSTER_HEALTH = "cluster_health.ps1"  # a drill's in-guest health report (no parameters)


@functools.lru_cache(maxsize=4)
def lines(name: str) -> tuple[str, ...]:
    """A shipped script, line by line, exactly as in the file."""
    return tuple(importlib.resources.files(__name__).joinpath(name).read_text(encoding="ascii").splitlines())
