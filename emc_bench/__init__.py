"""emc-bench: measure semantically contained emergent misalignment."""

from .version import __version__

__all__ = ["__version__", "load"]


def __getattr__(name: str):
    """``emc_bench.load``: verified loading from the Hub, imported on first use (the package stays light)."""
    if name == "load":
        from .hub import load

        return load
    raise AttributeError(f"module 'emc_bench' has no attribute {name!r}")
