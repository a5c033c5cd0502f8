"""The errors a user can fix from their message alone (the CLI prints them without a traceback)."""

from typing import NamedTuple


class UserError(Exception):
    """Bad input, config or cache: the message names the file, line or key and what was expected."""


class UnknownKey(UserError, KeyError):
    """A wildcard value (an artefact key, a task or model name) that this experiment's plan does not know."""

    def __str__(self) -> str:
        return str(self.args[0])


class ConfigError(UserError, ValueError):
    """A config value is invalid; the message starts with the dotted key that is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key `{key}`: {problem}")
        self.key = key
        self.problem = problem


class KeyProblem(NamedTuple):
    """What is wrong with one config key, found before it is raised as a `ConfigError(key, problem)`."""

    key: str
    problem: str
