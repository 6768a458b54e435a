"""somaxlint: find listen backlogs that a pod's network namespace silently truncates."""

__version__ = "0.3.1"
