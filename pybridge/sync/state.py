"""What a run works with (its Environment) and what it establishes step by step (its RunState).

Every step handler is a function ``handler(run, step)``: it reads the facts earlier steps
established from *run*, records its own, fills *step* (the ProvisioningStep the result
shows), and raises StepFailed to end the run. Nothing is kept anywhere else between steps.
"""
from __future__ import annotations

from typing import Callable, Generic, TypeVar, overload

from msgspec import Struct, field

from ..config import ADConnector, Config
from ..core.model import ProvisioningStep, Status, SyncResult
from ..core.plan import PendingExport
from ..core.rules import RuleSet, SyncOutcome
from ..core.troubleshoot import Finding
from ..errors import PyBridgeError
from ..store import PendingCreate, RunWrites, Store
from .ports import Directory, DirectoryObject, Properties, Tenant

T = TypeVar("T")

# How long a create not yet confirmed by a read-back is taken to be replicating, not deleted. Microsoft documents
# no bound for Entra ID's replication delay (seconds, occasionally minutes: "Designing for eventual consistency
# for Microsoft Entra"); an hour is far beyond what it describes, and only then is a missing object taken as gone.
REPLICATION_GRACE_SECONDS = 3600

DirectoryFactory = Callable[[ADConnector], Directory]
TenantFactory = Callable[[Config], Tenant]
Progress = Callable[[ProvisioningStep], None]


class StepFailed(Exception):
    """Ends the run at the current step: Failure, or Skipped when the object is out of scope."""

    def __init__(self, status: Status, code: str, reason: str, action: str | None = None,
                 details: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason, self.action, self.details = status, code, reason, action, details

    @classmethod
    def of(cls, finding: Finding) -> "StepFailed":
        return cls(Status.FAILURE, finding.code, finding.reason, finding.action, finding.details)

    @classmethod
    def from_error(cls, exc: PyBridgeError) -> "StepFailed":
        return cls(Status.FAILURE, exc.error_code, exc.message, exc.recommended_action or None)


def fail_on(finding: Finding | None) -> None:
    """A check's finding ends the run; no finding, nothing happens."""
    if finding is not None:
        raise StepFailed.of(finding)


class Options(Struct):
    staging_mode: bool = False
    what_if: bool = False
    persist: bool = True  # False: nothing is committed (a scan's runs: staging results, no state written)


class Environment(Struct):
    """What every run of this process uses: settings, state, rules, and how to reach both sides."""

    config: Config
    store: Store
    rules: RuleSet
    directory_for: DirectoryFactory
    tenant_for: TenantFactory
    progress: Progress | None = None
    # who keeps or closes the directory session after the run (default: close it)
    release_directory: Callable[[Directory, bool], None] | None = None


class StepOrderError(RuntimeError):
    """A step read a fact that no earlier step established: a mistake in the step table."""


class Fact(Generic[T]):
    """A value one step establishes and later steps rely on; reading it before it is set is a bug."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> "Fact[T]": ...

    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> "T | Fact[T]":
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]  # type: ignore[no-any-return]
        except KeyError:
            raise StepOrderError(f"{self.name} is read before the step that establishes it ran") from None

    def __set__(self, obj: object, value: T) -> None:
        obj.__dict__[self.name] = value

    def is_set(self, obj: object) -> bool:
        return self.name in obj.__dict__


class RulesOutcome(Struct):
    """The sync rules' verdict on the object: inbound to the metaverse, outbound to the Entra connector space."""

    inbound: SyncOutcome | None = None
    outbound: SyncOutcome | None = None
    error: PyBridgeError | None = None

    @property
    def excluded(self) -> bool:
        return (self.inbound is not None and self.inbound.excluded is not None) or \
            (self.outbound is not None and self.outbound.excluded is not None)

    def exported_properties(self) -> list[str]:
        """The Entra properties the outbound rules decide (and Graph can write), sorted."""
        out = self.outbound
        if out is None:
            return []
        return sorted((t for t in set(out.managed) | set(out.values) if t not in out.not_exportable), key=str.lower)


class RunState:
    """One run: its input, its result, and the facts its steps established so far."""

    # step 1: the AD connector and the partition holding the DN
    connector = Fact[ADConnector]()
    partition = Fact[str]()
    # step 2: the tenant, authenticated
    tenant = Fact[Tenant]()
    # step 4: the directory session and the object as the directory returned it
    directory = Fact[Directory]()
    ad_object = Fact[DirectoryObject]()
    # step 5: its structural class
    object_class = Fact[str]()
    # step 8: the rules' verdict, the object's source anchor and its Entra type
    rules = Fact[RulesOutcome]()
    source_anchor = Fact[str]()
    target_type = Fact[str]()
    # step 9: the metaverse object and what the export must write
    mv_id = Fact[str]()
    export = Fact[PendingExport]()

    def __init__(self, env: Environment, dn: str, result: SyncResult, options: Options) -> None:
        self.env = env
        self.dn = dn
        self.result = result
        self.options = options
        self.staging = options.staging_mode or options.what_if or env.config.sync.staging_mode
        self.anchor_guid: str | None = None  # the objectGUID, None when the object has none
        self.entra_object: Properties | None = None  # the matched Entra object (step 8); None: the export creates
        self.match = "None"  # how step 8 matched it
        self.unresolved: list[str] = []  # references (members, manager) not in Entra ID
        self.joined_deleted: str | None = None  # the Entra id of a joined object that no longer exists
        self.sync_rule_of: dict[str, str] = {}  # Entra property -> the outbound rule that flows it
        self.writes = RunWrites()  # what the run commits to the state store at its end
        self.pending: PendingCreate | None = None  # an earlier create of this object not yet confirmed (step 8)

    @property
    def config(self) -> Config:
        return self.env.config

    @property
    def store(self) -> Store:
        return self.env.store

    def warn(self, message: str) -> None:
        """Something the admin must know although the run goes on (shown in the result and the report)."""
        self.result.warnings.append(message)


StepHandler = Callable[[RunState, ProvisioningStep], None]
