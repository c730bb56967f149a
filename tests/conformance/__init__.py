"""The AWS conformance suite: one test per AWS behaviour the runtime relies on (docs/emulators.md)."""
