"""The local stack: the embedded AWS emulator, a local PostgreSQL, and the simulation that drives them."""
