"""What git-orch reports to a person: status, the status page, show."""
