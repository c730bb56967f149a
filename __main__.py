"""The order pipeline's Pulumi program: read the stack config, build the stack, export its outputs."""

import pulumi

from components.config import StackConfig
from components.program import build

for name, value in build(StackConfig.load()).items():
    pulumi.export(name, value)
