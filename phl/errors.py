"""Exception types of phl. The command line turns each into one clear message and exit code 2."""


class PHLError(Exception):
    """Base class of every error phl raises on purpose."""


class InputError(PHLError, ValueError):
    """Bad input from the user: a file, an option, a geometry or a configuration value."""


class SCFConvergenceError(PHLError, RuntimeError):
    """The SCF did not converge after every documented fallback."""


class GeometryError(PHLError, RuntimeError):
    """A minimisation, TS search, IRC or interpolation failed inside its library (Sella, ASE):
    that reaction fails, the run goes on."""


#: What Sella and ASE raise when an optimisation breaks down on a molecule (Gram-Schmidt or
#: internal-coordinate failures, singular matrices): turned into :class:`GeometryError` at the
#: call, so that any other exception is a bug and propagates.
OPTIMIZER_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ValueError, ArithmeticError)
