"""sigma: a terminal-first VPS fleet manager."""

__version__ = "0.1.0"
