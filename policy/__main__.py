"""Entry point the Pulumi CLI runs (`python -m pulumi.policy <engine> .` in this directory).

Constructing PolicyPack starts the gRPC server and never returns, so nothing imports this module;
tests import `policy.guardrails` and drive the running pack over gRPC (offline/policy_client.py).
"""

from guardrails.pack import PACK_NAME, policies
from pulumi_policy import PolicyPack

PolicyPack(
    name=PACK_NAME,
    description="Guardrails for the orders pipeline: DLQs on every queue, Spot-only fleets, and AWS hygiene.",
    policies=policies(),
)
