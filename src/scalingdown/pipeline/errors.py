"""The base of every error a user can fix from its message alone (the CLI prints it without a traceback)."""


class UserError(Exception):
    """Bad input, config or cache: the message names the file, line or key and what was expected."""
