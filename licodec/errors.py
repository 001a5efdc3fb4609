"""The one exception type users see: the CLI prints it as a one-line error."""


class LicodecError(Exception):
    """A problem with the user's input (file, image, option), not a bug in licodec."""
