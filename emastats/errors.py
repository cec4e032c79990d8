"""Exceptions that the command line turns into one-line messages (exit code 2)."""
from __future__ import annotations


class EmastatsError(Exception):
    """Base class: the message is shown to the user as it is, on one line."""


class UsageError(EmastatsError):
    """Bad input from the user: an unknown claim id, a bad option, a bad parameter."""


class InputFileError(EmastatsError):
    """A file that cannot be read or is not what it should be."""


class OutputFileError(EmastatsError):
    """A file or folder that cannot be written (read-only folder, disk full): the message names the path."""
