"""``make demo`` (``python -m demo``): the whole asr-s2d story on the embedded emulator + Azurite, printed
step by step.

Nothing is mocked: the app's real code runs with real SDK clients over HTTPS against the emulator,
and the events it handles are the ones the emulator publishes after the operator's writes.

``make chaos`` (``--chaos 0.10 --seed 7``) runs the same story twice on fresh worlds: first clean and
quietly, for the reference end state; then with that share of every emulated ARM call failing (seeded:
429 and 503 with ``Retry-After``, 500, dropped connections) and of long-running operations ending
``Failed``, and every event delivered twice in a shuffled order. The app keeps one azure-core retry, so
faults reach it: Event Grid redelivers what raised (with time passing), the hourly drift audit repairs
what a permanent failure left, an operator retries a write of theirs that failed. The two end states
(``emulator.endstate``) must be equal: the exit status is 1 with the differences otherwise.

The package reads in a line: ``stage`` (printing, the operator, Event Grid's delivery), the ``failover``
chapter, the ``drill`` chapters, the ``story`` that runs them, and ``__main__``. The emulator never
imports it.
"""
