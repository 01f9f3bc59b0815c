"""emc-bench: measure semantically contained emergent misalignment."""

__version__ = "0.1.0"
