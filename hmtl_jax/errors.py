"""Errors that are the user's to fix, not bugs: a setting, a file or a workdir that cannot be used as given.

`python -m hmtl_jax.main` prints such an error as one line naming what is wrong and what to do, and exits with
status 2; any other exception is a bug and keeps its traceback. Each class also derives from the built-in error a
caller would expect (ValueError for a bad value, FileNotFoundError for a missing file), so library callers can keep
catching those.
"""


class UserError(Exception):
    """Something the user asked for cannot work; the message says what and how to fix it."""


class ConfigError(UserError, ValueError):
    """A config value that cannot work, alone or with the run its workdir already holds."""


class WorkdirError(UserError, PermissionError):
    """A workdir that cannot be written."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the run needs is not there."""
