"""Repository tools run by the GitHub workflows (see docs/ci.md)."""
