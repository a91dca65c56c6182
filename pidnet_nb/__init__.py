__version__ = "0.1.0"

from .core import quiet_third_party as _quiet

_quiet()  # known third-party log noise only; see the core chapter
