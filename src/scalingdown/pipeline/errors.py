"""The base of every error a user can fix from its message alone (the CLI prints it without a traceback)."""


class UserError(Exception):
    """Bad input, config or cache: the message names the file, line or key and what was expected."""


class UnknownKey(UserError, KeyError):
    """A wildcard value (an artefact key, a task or model name) that this experiment's plan does not know."""

    def __str__(self) -> str:
        return str(self.args[0])
