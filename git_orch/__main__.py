from git_orch.entry import entry_point

entry_point()
