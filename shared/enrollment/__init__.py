"""Enrollment: tag events in, every node of a cluster replicating in ONE multi-VM group out (plan + service)."""
