"""ReplayEngine: a test double for the official Cosmos training entry points (see ``replay``)."""
