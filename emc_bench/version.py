"""The package version, in one place (the wheel's version is read from it)."""

__version__ = "0.1.0"
