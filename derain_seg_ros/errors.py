"""The base of every error a user can act on: a missing or foreign file, a bad message, a damaged
bag or dataset, a backend that cannot run here. Its message says what is wrong and what to do, so
the command line prints it as one line instead of a traceback (stdlib only: every layer may use it).
"""


class DerainSegError(Exception):
    """An error about the user's input or machine, not a bug in this package."""
