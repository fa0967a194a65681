"""The one exception type a user sees as a single line instead of a traceback."""


class UserError(Exception):
    """An error the user can act on: bad input, missing file, wrong flag.

    The CLI prints ``str(error)`` on one line and exits with status 2.
    """
