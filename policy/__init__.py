"""The orders policy pack (`pulumi preview --policy-pack policy/`); the rules live in `policy/guardrails`."""
