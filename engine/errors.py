"""Errors meant for the user: the CLI prints their message, never a traceback."""


class EventSepError(Exception):
    """A problem the user can fix (bad file, unknown class, wrong option)."""


class AudioFileError(EventSepError):
    """An audio file is missing, unreadable, empty or of zero length."""
