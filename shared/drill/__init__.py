"""Drills: preconditions and in-guest checks, the drill record, and the service."""
