"""Engine adapters: the builtin engine and the official Cosmos repos behind one interface.

Importing this package registers every shipped adapter; use :func:`base.get_adapter`.
"""

from cosmos_tui.core.engines import builtin  # noqa: F401
