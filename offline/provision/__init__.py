"""The offline harness's knowledge of AWS resource types, one module per service, and the emulator provisioner.

- `base`: what a `ResourceType` is (offline outputs, creation and deletion in the emulator, inventory) and what
  its handlers are given; `registry.REGISTRY`: every type by Pulumi token, from the service modules.
- `provisioner`: `provision()` runs the program with `EmulatorMocks`, which create each type the emulator runs
  and answer with its real ARNs/URLs (`Provisioned`); `clients.EmulatorClients` are the emulator's root clients.
- `offline/mocks.py` answers with the same types' offline outputs; `simulation/teardown.py` (`local down`)
  deletes with their `delete`.

This package's `__init__` imports nothing: `offline/mocks.py` imports the registry, and the provisioner imports
`offline/graph.py`, which imports `offline/mocks.py`.
"""
