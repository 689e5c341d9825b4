"""Exception types of phl. The command line turns each into one clear message and exit code 2."""


class PHLError(Exception):
    """Base class of every error phl raises on purpose."""


class InputError(PHLError, ValueError):
    """Bad input from the user: a file, an option, a geometry or a configuration value."""


class SCFConvergenceError(PHLError, RuntimeError):
    """The SCF did not converge after every documented fallback."""
