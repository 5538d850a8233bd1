"""Errors that end a run before it starts: bad usage or a bad profile (exit code 2)."""


class UsageError(Exception):
    """A one-line, user-facing message saying what is wrong and where."""


class ProfileError(UsageError):
    pass
