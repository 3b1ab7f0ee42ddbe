"""Engine adapters: the builtin engine and the official Cosmos repos behind one interface.

Importing this package imports no adapter; :func:`.registry.get_adapter` (also importable from
:mod:`.base`) loads the one asked for, by the module name :data:`.registry.ADAPTER_MODULES` gives.
"""
