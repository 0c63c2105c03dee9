"""A local emulator of the Azure Resource Manager endpoints asr-s2d uses.

Built like moto: one package per resource provider under ``emulator/providers`` (routes, handlers,
state that enforces the provider's rules, ARM error envelopes), and a shared core under
``emulator/core`` (HTTPS server, routing, long-running operations, paging, throttling, fault
injection, the request journal and the Event Grid events ARM would publish). A control API under
``/_emulator/`` resets, seeds, injects faults and reads the journal.

The emulator is a product part, not a mock: when it is lenient, every figure measured on it lies.
"""

from emulator.server import Emulator

__all__ = ["Emulator"]
