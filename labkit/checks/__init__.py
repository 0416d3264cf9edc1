"""Self-checks for the exercises: one module per lesson.

A check inspects the real backend state, prints ✓ or a specific hint, and
returns True or False. It never raises, so a notebook with blank exercises
still runs top to bottom.
"""

from labkit.checks import start_here

__all__ = ["start_here"]
