"""The one exception type for anything a user can act on.

Library code raises OrchError; only cli.py turns it into an exit code, so a
user can always tell a refusal (exit 1) from a bug (exit 3).
"""


class OrchError(Exception):
    """A refusal or a user mistake, with a message fit for one stderr line."""

    exit_code = 1


class OrchUsageError(OrchError):
    """The command line itself is wrong (exit 2, like click's usage errors)."""

    exit_code = 2
