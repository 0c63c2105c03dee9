"""``make bench``: the figures that judge asr-s2d as a serverless DR tool, measured in one run.

One module per figure (``cold_start`` P1, ``enrollment_economy`` P2, ``audit_scale`` P3, ``event_storm`` P4,
``post_failover`` P5, ``quiet_events`` P6); ``lab`` starts the emulator (ARM's throttling on) and Azurite and counts ARM calls
from the emulator's request journal; ``world`` seeds the worlds; ``report`` renders the table, writes
``bench/results.json`` and ``bench/results.md`` and updates the "Performance" section of ``docs/testing.md``.
The small test (``tests/bench``) runs the same functions at small sizes and asserts the counts.
"""
