"""Physical AWS names that are valid for their service whatever the project, stack and region are.

Every physical name the program gives a resource is `<project>-<stack>-<base>[-<more parts>]` (see
`AwsContext.name`), built here by `physical_name(kind, *parts)`. A name that is already valid for its
kind is returned as is, so the short lower-case stacks (`dev`, `prod`) get plain `<project>-<stack>-<base>`
names (a valid name is never rewritten: a changed physical name replaces the resource). Otherwise the name
is made valid deterministically:

1. characters the service refuses become `-` (and the name is lower-cased where the service wants it),
   runs of `-` collapse where the service forbids `--`, and the name starts and ends with a letter or digit;
2. a short hash of the *original* name is appended, so two stacks that differ only in what step 1 changed
   (`Prod` and `prod`, `eu.prod` and `eu_prod`) or in what step 3 cut off still get different names;
3. what precedes the hash is cut to fit the service's length limit; a required suffix (`.fifo`) is kept.

Pure Python (no Pulumi import): the same function is callable inside `Output.apply` for names that
embed the account id, and from tests. `worker.topology.physical_name` (the unshortened form, used by
tests and tools that create short-named stacks of their own) agrees with this for every name that is
valid as it is.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "s3",
    "iam-role",
    "iam-instance-profile",
    "lambda",
    "lambda-layer",
    "rds",
    "rds-snapshot",
    "rds-subnet-group",
    "rds-parameter-group",
    "redshift-serverless",
    "sqs",
    "sns",
    "dynamodb",
    "log-group",
    "alarm",
    "dashboard",
    "security-group",
    "launch-template",
    "asg",
    "asg-policy",
    "lifecycle-hook",
    "api",
    "waf",
    "ecs",
    "kms-alias",
    "tag",
]

HASH_LENGTH = 8
"""Hex digits of sha256 appended to a name that had to change: 32 bits, stable across runs and machines."""


@dataclass(frozen=True)
class Rule:
    """What AWS accepts for one kind of name (the provider and the API reject anything else)."""

    max_length: int
    allowed: str
    """A regex character class (without brackets) of the characters the service accepts."""
    min_length: int = 1
    lowercase: bool = False
    starts_with_letter: bool = False
    no_double_hyphen: bool = False
    edges_alnum: bool = False
    """First and last character must be a letter or a digit."""
    forbidden_prefixes: tuple[str, ...] = ()
    forbidden_suffixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    """Suffixes the service allows outside the character set (SQS `.fifo`); counted in the length."""

    def valid(self, name: str) -> bool:
        if not self.min_length <= len(name) <= self.max_length:
            return False
        for suffix in self.suffixes:
            name = name.removesuffix(suffix)
        if not re.fullmatch(f"[{self.allowed}]+", name):
            return False
        if self.lowercase and name != name.lower():
            return False
        if self.starts_with_letter and not name[0].isalpha():
            return False
        if self.no_double_hyphen and ("--" in name or name.endswith("-")):
            return False
        if self.edges_alnum and not (name[0].isalnum() and name[-1].isalnum()):
            return False
        return not name.startswith(self.forbidden_prefixes) and not name.endswith(self.forbidden_suffixes)

    def sanitize(self, name: str) -> str:
        """Step 1: only allowed characters, the right case, no `--` where forbidden, alphanumeric edges."""
        if self.lowercase:
            name = name.lower()
        name = re.sub(f"[^{self.allowed}]", "-", name)
        if self.no_double_hyphen or self.edges_alnum:
            name = re.sub(r"-{2,}", "-", name)
        return self.trim(name, leading=True)

    def trim(self, name: str, *, leading: bool = False) -> str:
        """Drop what may not end (or, with `leading`, start) the name: `-` before the hash, non-alphanumerics
        where the service wants alphanumeric edges."""
        edge = "[^a-zA-Z0-9]" if self.edges_alnum else "-"
        name = re.sub(f"{edge}+$", "", name)
        return re.sub(f"^{edge}+", "", name) if leading and self.edges_alnum else name


_ALNUM_HYPHEN = "a-zA-Z0-9_-"
RULES: dict[str, Rule] = {
    # S3: 3-63, lower-case letters, digits, '-' (and '.', which this program never generates: dotted names
    # break virtual-hosted TLS). Reserved prefixes and suffixes are refused by S3.
    "s3": Rule(
        63,
        "a-z0-9-",
        min_length=3,
        lowercase=True,
        edges_alnum=True,
        forbidden_prefixes=("xn--", "sthree-", "amzn-s3-demo-"),
        forbidden_suffixes=("-s3alias", "--ol-s3", "--x-s3", "--table-s3"),
    ),
    "iam-role": Rule(64, "a-zA-Z0-9_+=,.@-"),
    "iam-instance-profile": Rule(128, "a-zA-Z0-9_+=,.@-"),
    "lambda": Rule(64, _ALNUM_HYPHEN),
    "lambda-layer": Rule(140, _ALNUM_HYPHEN),
    # RDS instance identifier: 1-63, lower-case letters, digits and '-', first a letter, no '--', no trailing '-'.
    "rds": Rule(63, "a-z0-9-", lowercase=True, starts_with_letter=True, no_double_hyphen=True),
    "rds-snapshot": Rule(255, "a-zA-Z0-9-", starts_with_letter=True, no_double_hyphen=True),
    "rds-subnet-group": Rule(255, "a-z0-9 ._-", lowercase=True),
    # DB parameter group: 1-255 lower-case letters, digits and '-', first a letter, no '--', no trailing '-'.
    "rds-parameter-group": Rule(255, "a-z0-9-", lowercase=True, starts_with_letter=True, no_double_hyphen=True),
    "redshift-serverless": Rule(64, "a-z0-9-", min_length=3, lowercase=True),
    "sqs": Rule(80, _ALNUM_HYPHEN, suffixes=(".fifo",)),
    "sns": Rule(256, _ALNUM_HYPHEN),
    "dynamodb": Rule(255, "a-zA-Z0-9_.-", min_length=3),
    "log-group": Rule(512, r"a-zA-Z0-9_./#-"),
    "alarm": Rule(255, r"\x20-\x7e"),
    "dashboard": Rule(255, _ALNUM_HYPHEN),
    # EC2 security group names (VPC): 255 characters of a-zA-Z0-9 and ._-:/()#,@[]+=&;{}!$* and space; not sg-*.
    "security-group": Rule(255, r"a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*", forbidden_prefixes=("sg-",)),
    "launch-template": Rule(128, r"a-zA-Z0-9()./_-", min_length=3),
    "asg": Rule(255, "a-zA-Z0-9_.-"),
    "asg-policy": Rule(255, "a-zA-Z0-9_.-"),
    "lifecycle-hook": Rule(255, "a-zA-Z0-9_/-"),
    "api": Rule(128, "a-zA-Z0-9_.-"),
    # WAFv2 web ACL (and its metric) name: 1-128 of [A-Za-z0-9_-].
    "waf": Rule(128, _ALNUM_HYPHEN),
    "ecs": Rule(255, _ALNUM_HYPHEN),
    # The part after `alias/` (256 in all); `alias/aws/` is reserved.
    "kms-alias": Rule(250, "a-zA-Z0-9/_-", forbidden_prefixes=("aws/",)),
    "tag": Rule(256, "a-zA-Z0-9_ .:/=+@-"),
}


class InvalidName(ValueError):
    """No valid name could be built (a rule this module cannot satisfy); never expected for real input."""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def _lead(rule: Rule, head: str) -> str:
    """Prefix `x` when the name would start with a digit where a letter is required, or with a reserved prefix."""
    if rule.starts_with_letter and not head[:1].isalpha():
        head = "x" + head
    return "x" + head if head.startswith(rule.forbidden_prefixes) else head


def _checked(rule: Rule, kind: Kind, original: str, result: str) -> str:
    if not rule.valid(result):
        raise InvalidName(f"cannot build a valid {kind} name from {original!r} (got {result!r})")
    return result


def fit(kind: Kind, name: str, *, suffix: str = "") -> str:
    """`name + suffix` if valid for `kind`; else sanitized, cut from the end and hashed: `<head>-<hash><suffix>`."""
    rule = RULES[kind]
    if rule.valid(name + suffix):
        return name + suffix
    tag = digest(name + suffix)
    budget = rule.max_length - len(suffix) - len(tag) - 1
    head = rule.trim(_lead(rule, rule.sanitize(name))[:budget])
    return _checked(rule, kind, name + suffix, f"{head}-{tag}{suffix}" if head else f"x{tag}{suffix}")


def physical_name(kind: Kind, project: str, stack: str, *parts: str, suffix: str = "") -> str:
    """`<project>-<stack>-<parts...><suffix>`, valid for `kind`.

    Unchanged when already valid (`physical_name("sqs", "orders", "dev", "orders", suffix=".fifo")` is
    `orders-dev-orders.fifo`). Otherwise the resource's own part is kept whole and the project-and-stack
    part is sanitized and cut to what remains, followed by the hash: `orders-producti-1a2b3c4d-orders.fifo`,
    so the console still shows which resource a name is. Falls back to `fit` if even that does not fit.
    """
    scope = f"{project}-{stack}"
    raw = "-".join((scope, *parts)) + suffix
    rule = RULES[kind]
    if rule.valid(raw):
        return raw
    tag = digest(raw)
    own = rule.sanitize("-".join(parts)) if parts else ""
    room = rule.max_length - len(suffix) - len(tag) - len(own) - (2 if own else 1)
    if room >= 1:
        head = rule.trim(_lead(rule, rule.sanitize(scope))[:room])
        if rule.trim(head, leading=True) == head and head:
            candidate = "-".join(p for p in (head, tag, own) if p) + suffix
            if rule.valid(candidate):
                return candidate
    return fit(kind, raw.removesuffix(suffix), suffix=suffix)
