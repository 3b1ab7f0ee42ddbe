"""Engine adapters: the builtin engine and the official Cosmos repos behind one interface.

Importing this package registers every shipped adapter; use :func:`base.get_adapter`.
"""

from cosmos_tui.core.engines import (
    builtin,  # noqa: F401
    predict1,  # noqa: F401
    predict25,  # noqa: F401
    transfer25,  # noqa: F401
)
