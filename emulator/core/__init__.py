"""Provider-neutral machinery of the ARM emulator (no provider imports this package's state)."""
