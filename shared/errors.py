"""The small error tree every service raises and every trigger translates.

``TransientError``: raise it and the platform retries (Event Grid redelivers, the timer runs again):
throttling, conflicts while an operation runs, a lease held by another instance. ``GuestNotReady`` is the
transient "not yet" of a cluster node's guest: its outcome is ``not-yet``, never ``failed``.
``PermanentError``: record it, report it and return: bad tags, unsupported topology, bad input.
Retrying would only fail the same way.
"""

from __future__ import annotations


class AsrS2dError(Exception):
    """Base of every error asr-s2d raises on purpose."""


class TransientError(AsrS2dError):
    """Worth retrying: the world may look different in a moment.

    ``recorded`` is set by the service that already wrote this failure's outcome record (with its cluster
    and plan), so the trigger that lets it propagate does not write a second one."""

    recorded: bool = False


class GuestNotReady(TransientError):
    """A node's guest cannot take an in-guest step yet: its VM agent is not Ready, another Run Command runs on the VM,
    or its cluster has not settled since boot (ClusSvc starting, the node joining). A VM that just booted (every node
    after a failover) is like that for minutes; not a failure: retried later (DESIGN.md rules 13 and 19)."""


class AddressTaken(TransientError):
    """A static private IP the plan chose was taken meanwhile (``PrivateIPAddressInUse``): another cluster's test VM or
    drill took it between the read and the write. Re-plan from a fresh read of the subnet."""


class PermanentError(AsrS2dError):
    """Not worth retrying: the input or the topology must change first."""


class SettingsError(PermanentError):
    """An app setting is missing or invalid; the message names the setting."""


class RejectedInput(PermanentError):
    """An event or a tag value was refused; nothing was written."""


class LeaseLost(TransientError):
    """The cluster lock was lost while working; stop writing and let the retry converge."""
