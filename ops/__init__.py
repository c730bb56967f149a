"""Operator tools run from a laptop or CI against a stack: `python -m ops plan ...`, `python -m ops dlq-triage ...`."""
