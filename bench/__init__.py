"""Benchmarks: one command each, one emulator on loopback, figures printed side by side."""
