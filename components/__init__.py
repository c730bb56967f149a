"""One `pulumi.ComponentResource` per tier of the order pipeline."""
