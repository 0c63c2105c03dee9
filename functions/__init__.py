"""Triggers: decode the event, call one entry point in ``shared``, translate the outcome. No business rules."""
