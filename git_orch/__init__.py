"""git-orch: a Git-native control system for supervised AI-coding loops."""

__version__ = "0.1.0"
