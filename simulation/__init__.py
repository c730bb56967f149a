"""The local simulation: the embedded AWS emulator's launcher (MiniStack), each process's role profiles, a
local PostgreSQL, the IMDS stand-in, the producer, the intake client and the demo. It imports the runtime (`worker`) and the offline harness
(`offline`); nothing that ships to AWS imports it."""
