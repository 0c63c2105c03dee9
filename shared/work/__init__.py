"""Durable work: what the triggers enqueue and the queue worker advances one bounded step at a time."""
