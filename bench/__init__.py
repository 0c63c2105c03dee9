"""``make bench``: the figures that judge asr-s2d as a serverless DR tool, measured in one run.

One module per figure (``cold_start`` P1, ``enrollment_economy`` P2, ``audit_scale`` P3, ``event_storm`` P4,
``post_failover`` P5, ``queue_failover`` P6, ``drills`` P7, ``quiet_events`` P8); ``lab`` starts the emulator (ARM's
throttling on) and Azurite and counts ARM calls from the emulator's request journal; ``world`` seeds the worlds;
``delivery`` plays Event Grid (and the triggers' own work: screen, enqueue), ``worker`` the queue's worker;
``report`` renders the table, writes
``bench/results.json`` and ``bench/results.md`` and updates the "Performance" section of ``docs/testing.md``.
The small test (``tests/bench``) runs the same functions at small sizes and asserts the counts.
"""
