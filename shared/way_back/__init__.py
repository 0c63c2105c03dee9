"""The way back: reprotect after a committed failover, and the failback (plan + service)."""
