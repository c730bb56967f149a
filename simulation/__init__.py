"""The local simulation: the embedded AWS emulator (moto) and its patches, a local PostgreSQL, the IMDS
stand-in, the producer and the demo. It imports the runtime (`worker`) and the offline harness
(`offline`); nothing that ships to AWS imports it."""
