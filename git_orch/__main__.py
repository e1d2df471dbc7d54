from git_orch.cli import entry_point

entry_point()
