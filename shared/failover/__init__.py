"""Failover: the IP step after Site Recovery fails a cluster over (signals + plan + service)."""
