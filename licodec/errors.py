"""The one exception type users see: the CLI prints it as a one-line error."""


class LicodecError(Exception):
    """A problem with the user's input (file, image, option), not a bug in licodec."""


class LicodecWarning(UserWarning):
    """Something licodec changed or dropped on the way (bit depth, metadata): the CLI prints it
    as `licodec: warning: …`; Python callers get it through the warnings module."""
