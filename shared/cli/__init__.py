"""``asr-s2d``: the operator CLI. ``main.py`` lists the commands; ``output.py`` holds tables, progress and exit
codes; one module per command group. Nothing outside this package imports it: services return values, and
only the CLI prints them."""
