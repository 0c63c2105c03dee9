"""Builders for pure planner tests: observed-state values without any Azure call."""
