"""What a resource type is made of here, and what its handlers are given.

A `ResourceType` keeps in one place everything the offline harness knows about one Pulumi type:

- `outputs`: the offline mock's computed outputs (`offline/mocks.py` answers with them, like AWS would);
- `create`: its creation in the emulator, from the program's inputs (None: the type is deployed to AWS only);
- `delete`: its deletion there, as the provider's Delete does on `pulumi destroy` (`local down`);
- `resolve`: the emulator's id of a resource, read before anything is deleted (a KMS key through its alias);
- `kind` and `remaining`: what `local down` lists as still there afterwards, by kind.

No module of this package imports boto3, Pulumi or `offline.graph` at run time: `offline/mocks.py` builds its
table from them for every graph test, and `offline/graph.py` imports `offline/mocks.py`.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from offline.graph import Graph, Resource
    from offline.provision.clients import EmulatorClients

PARTITION = "aws"
Outputs = dict[str, Any]
NOT_FOUND = frozenset(
    {
        "404",  # a HEAD request (S3 HeadBucket) has no error body: the code is the status
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NotFound",
        "NotFoundException",
        "NoSuchBucket",
        "NoSuchEntity",
        "ResourceNotFoundException",
        "ResourceNotFound",
    }
)
"""Error codes meaning "no such resource": a delete that meets one finds the resource already gone."""


class ProvisionError(RuntimeError):
    """The program asked the emulator for something AWS would refuse too (or the translator cannot map)."""


class DeleteRefused(RuntimeError):
    """The emulator refused a delete as AWS would (deletion protection, a bucket that holds objects)."""


def arn(service: str, region: str, resource: str, *, account: str) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def short_id(*parts: object) -> str:
    """A deterministic 10-character id, shaped like API Gateway's, from the parts that identify a resource."""
    return format(zlib.crc32("/".join(str(p) for p in parts).encode()), "010x")


def as_int(value: Any) -> str:
    return str(int(value))


def as_bool(value: Any) -> str:
    return "true" if value else "false"


def take(inputs: Mapping[str, Any], known: Collection[str], what: str, *, ignore: Collection[str] = ()) -> None:
    """Fail on any input the translator does not know: a silently dropped setting is a lie about AWS."""
    unknown = sorted(k for k in inputs if k not in known and k not in ignore and k != "__defaults")
    if unknown:
        raise ProvisionError(
            f"{what}: no emulator translation for input(s) {unknown}; add them to its module in offline/provision/"
        )


def json_document(text: str, what: str, field_name: str = "policy") -> dict[str, Any]:
    """A JSON object input (a policy, a schema), or the error AWS would give for it."""
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ProvisionError(f"{what}: {field_name} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ProvisionError(f"{what}: {field_name} is not a JSON object: {text[:80]}")
    return document


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class LauncherCredentials:
    """The local launcher: an IAM user of the emulator allowed only to assume the stack's roles."""

    user_name: str
    user_arn: str
    access_key_id: str
    secret_access_key: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """The launcher's credentials as a child process's environment (no session token: a long-term key)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


@dataclass
class Run:
    """One provisioning run: the emulator, the launcher's name, and what was done besides creating resources.

    The mock runtime calls the handlers from several threads: lists are appended under `lock`.
    """

    clients: EmulatorClients
    launcher_name: str
    """The IAM user name of the local launcher (`iam.launcher_user_name`)."""
    not_applied: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, why): validated but not handed to the emulator, or handed but not enforced by it."""
    local_only: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, what): added in the emulator only, for the local run; never part of the program."""
    launcher: LauncherCredentials | None = None
    launcher_roles: list[str] = field(default_factory=list)
    """ARNs of the roles the launcher may assume (its identity policy), in creation order."""
    lock: threading.RLock = field(default_factory=threading.RLock)


@dataclass(frozen=True)
class Creation:
    """What a create handler is given besides the inputs: where, which resource, and the run."""

    run: Run
    type: str
    name: str
    """The logical name (the URN's)."""
    region: str

    @property
    def what(self) -> str:
        return f"{self.type} {self.name!r}"

    def client(self, service: str) -> Any:
        return self.run.clients(service, self.region)

    @property
    def account(self) -> str:
        return self.run.clients.account(self.region)

    def not_applied(self, why: str) -> None:
        with self.run.lock:
            self.run.not_applied.append((self.type, self.name, why))

    def local_only(self, what: str) -> None:
        with self.run.lock:
            self.run.local_only.append((self.type, self.name, what))


@dataclass(frozen=True)
class Deletion:
    """What a delete, resolve or remaining handler is given: the emulator, the graph, one of its resources."""

    clients: EmulatorClients
    graph: Graph
    resource: Resource
    region: str
    resolved: Mapping[str, str]
    """URN -> the emulator's id of a resource, read before anything was deleted (`ResourceType.resolve`)."""

    @property
    def inputs(self) -> dict[str, Any]:
        return self.resource.inputs

    @property
    def what(self) -> str:
        return f"{self.resource.type} {self.resource.name!r}"

    def client(self, service: str) -> Any:
        return self.clients(service, self.region)

    def unless_gone(self, delete: Callable[[], object], physical: str, done: str) -> tuple[str, str]:
        """Run one delete call; a resource the emulator no longer has is "already gone", as the provider treats it."""
        try:
            delete()
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND:
                return physical, "already gone"
            raise
        return physical, done

    def read(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """A read call's answer, None on a not-found error."""
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND:
                return None
            raise

    def exists(self, call: Callable[[], dict[str, Any]]) -> bool:
        """Whether a read call finds the resource."""
        return self.read(call) is not None


OutputsFn = Callable[[str, str, Outputs, str], tuple[str, Outputs]]
"""(physical name, region, inputs, account) -> (id, computed outputs), as AWS would answer."""
CreateFn = Callable[[Creation, Outputs], tuple[str, Outputs]]
"""(where and what, inputs) -> (the emulator's id, the outputs it reports)."""
DeleteFn = Callable[[Deletion], tuple[str, str]]
"""-> (physical id, what was done)."""
ResolveFn = Callable[[Deletion], "str | None"]
RemainingFn = Callable[[Deletion], list[str]]
"""-> what of this resource the emulator still holds (physical ids; empty when it is gone)."""


@dataclass(frozen=True)
class ResourceType:
    """One Pulumi resource type: its offline outputs, its creation and deletion in the emulator, its inventory."""

    token: str
    outputs: OutputsFn | None = None
    """None: the offline mock echoes the inputs and adds an ARN (`offline/mocks.py`)."""
    create: CreateFn | None = None
    """None: the emulator does not run it; the type is deployed to AWS only."""
    delete: DeleteFn | None = None
    resolve: ResolveFn | None = None
    kind: str | None = None
    """What `local down` calls these when it lists what remains (e.g. "queues"); None: part of another kind."""
    remaining: RemainingFn | None = None

    def __post_init__(self) -> None:
        if (self.create is None) != (self.delete is None):
            raise ValueError(f"{self.token}: a type the emulator creates must be deleted there too, and only such")
        if (self.kind is None) != (self.remaining is None):
            raise ValueError(f"{self.token}: an inventory kind needs its remaining() and the reverse")

    @property
    def emulated(self) -> bool:
        return self.create is not None
