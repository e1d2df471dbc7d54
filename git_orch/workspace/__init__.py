"""Worker workspaces: opening tasks, worker-side commands and hooks, reconciling."""
