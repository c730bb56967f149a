"""Everything that runs: the FIFO worker, the fan-out consumers, the producer and the local simulation."""
