"""The ten steps of Single Object Sync: one table, and the loop that runs it.

Read the table top to bottom: it is the run. Each row names the step as the original
cmdlet does and the functions that do its work (sync/*_steps.py). The first step that
fails or finds the object out of scope ends the run; every later step stays Skipped.
The state store is written once, at the end, in one transaction (never with --what-if).
"""
from __future__ import annotations

import logging
import traceback
from typing import Callable

from msgspec import Struct

from ..core.model import (Action, ProvisioningIdentity, ProvisioningStep, Status, StepKey, StepType,
                          SyncResult, iso, status_info_for, utcnow)
from ..errors import PyBridgeError
from ..report.adsync import to_adsync  # the run history keeps each result in the original's shape
from ..store import new_id
from . import details
from .export_step import export_object
from .import_steps import import_source_object, import_target_object
from .scoping_steps import (check_container, check_group_filtering, check_object_type, read_object, report_departure,
                            select_source_partition, select_tenant)
from .state import Environment, Options, RunState, StepFailed, StepHandler
from .sync_step import evaluate_rules, synchronize

log = logging.getLogger("pybridge")

SCOPING, IMPORT, SYNC, EXPORT = StepType.SCOPING, StepType.IMPORT, StepType.SYNC, StepType.EXPORT


class Step(Struct, frozen=True):
    key: StepKey
    type: StepType
    name: str  # the original cmdlet's step name
    description: str  # the original's description
    handlers: tuple[StepHandler, ...]  # run in order


STEPS: tuple[Step, ...] = (
    Step(StepKey.SOURCE_DOMAIN, SCOPING, "ScopingDomain", "Determine if Object's (source) Domain (Active "
         "Directory Connector and Partition) in sync scope", (select_source_partition,)),
    Step(StepKey.TARGET_DOMAIN, SCOPING, "ScopingDomain", "Determine if Object's (target) Domain (Azure Active "
         "Directory Connector and Partition) in sync scope", (select_tenant,)),
    Step(StepKey.CONTAINER, SCOPING, "ScopingOrganizationalUnit", "Determine if Object's Organizational Unit in "
         "sync scope", (check_container,)),
    Step(StepKey.CONNECTIVITY, SCOPING, "ScopingConnectivity", "Determine if Object is accessible using connector "
         "account credentials", (read_object,)),
    Step(StepKey.OBJECT_TYPE, SCOPING, "ScopingObjectType", "Determine if Object's Type in sync scope",
         (check_object_type,)),
    Step(StepKey.GROUP_FILTER, SCOPING, "ScopingGroup", "Determine if Object is in sync scope if Group Filtering "
         "enabled", (check_group_filtering,)),
    Step(StepKey.SOURCE_IMPORT, IMPORT, "ImportSpecificObject", "Import Object from Active Directory to Active "
         "Directory Connector Space", (import_source_object,)),
    # matching needs the rules' values (UPN, mail, Entra type), so they are evaluated first; step 9 reports them
    Step(StepKey.TARGET_IMPORT, IMPORT, "ImportSpecificObject", "Import Object from Azure Active Directory to Azure "
         "Active Directory Connector Space", (evaluate_rules, import_target_object)),
    Step(StepKey.SYNC, SYNC, "SyncSpecificObject", "Sync Object from Active Directory Connector Space",
         (synchronize,)),
    Step(StepKey.EXPORT, EXPORT, "ExportSpecificObject", "Export Object from Azure Active Directory Connector Space "
         "to Azure Active Directory", (export_object,)),
)


def new_steps() -> list[ProvisioningStep]:
    """The ten steps of a result, all Skipped until they run."""
    return [ProvisioningStep(number=n, key=s.key, type=s.type, name=s.name, description=s.description)
            for n, s in enumerate(STEPS, start=1)]


def run_steps(env: Environment, dn: str, options: Options | None = None,
              finish: Callable[[SyncResult], None] | None = None,
              observe: Callable[[RunState], None] | None = None) -> SyncResult:
    """Run the ten steps for *dn*; *finish* (e.g. writing the HTML report) runs before the state is committed,
    *observe* (a scan's whole-view checks) sees the run's final state."""
    options = options or Options()
    result = SyncResult(distinguished_name=dn, start_time=utcnow(), steps=new_steps(),
                        source_identity=ProvisioningIdentity(name=dn), what_if=options.what_if,
                        config_path=str(env.config.path) if env.config.path else None, run_id=new_id())
    run = RunState(env, dn, result, options)
    result.staging_mode = run.staging
    try:
        for row, step in zip(STEPS, result.steps):
            if not _run_step(run, row, step):
                break
    finally:
        _release_directory(run)
    result.end_time = utcnow()
    if result.status_info.status == Status.SKIPPED:
        report_departure(run)
    if run.unresolved and result.status_info.status == Status.SUCCESS:
        run.warn(f"{len(run.unresolved)} reference(s) could not be resolved and were not exported: "
                 + "; ".join(run.unresolved[:20]) + (" ..." if len(run.unresolved) > 20 else ""))
    if result.warnings:
        status = result.status_info
        status.additional_details = " ".join(filter(None, [status.additional_details, *result.warnings]))
    if finish is not None:
        finish(result)
    if observe is not None:
        observe(run)
    _commit(run)
    return result


def _run_step(run: RunState, row: Step, step: ProvisioningStep) -> bool:
    """Run one step; False when it ended the run."""
    step.timestamp = utcnow()
    try:
        for handler in row.handlers:
            handler(run, step)
        step.status = Status.SUCCESS
        return True
    except StepFailed as stop:
        _stop(run.result, step, stop)
    except PyBridgeError as exc:
        _stop(run.result, step, StepFailed.from_error(exc))
    except Exception as exc:  # noqa: BLE001 - every run ends in a result, never a traceback
        log.debug("unexpected error in step %s", step.number, exc_info=True)
        _stop(run.result, step, StepFailed(Status.FAILURE, "InternalError", f"{type(exc).__name__}: {exc}",
                                           details="".join(traceback.format_exception_only(type(exc), exc)).strip()))
    finally:
        if log.isEnabledFor(logging.DEBUG):  # -vv: each step's outcome and time, for the person debugging
            took = (utcnow() - step.timestamp).total_seconds() * 1000
            log.debug("step %d %s: %s in %.0f ms", step.number, step.name, step.status.value, took)
        if run.env.progress:
            run.env.progress(step)
    return False


def _stop(result: SyncResult, step: ProvisioningStep, stop: StepFailed) -> None:
    failed = stop.status == Status.FAILURE
    step.status = Status.FAILURE if failed else Status.SKIPPED
    step.details.setdefault(details.REASON, stop.reason)
    result.status_info = status_info_for(stop.code, stop.reason, status=stop.status, details=stop.details,
                                         recommended=stop.action)
    if failed:
        result.action = Action.OTHER


def _release_directory(run: RunState) -> None:
    if not RunState.directory.is_set(run):
        return
    healthy = not (run.result.status_info.error_code or "").startswith("Ldap")
    if run.env.release_directory is not None:
        run.env.release_directory(run.directory, healthy)
    else:
        run.directory.close()


def _commit(run: RunState) -> None:
    """One transaction: what the steps recorded, and the run in the history (nothing with --what-if).

    Steps record their writes only once they succeed, so a run that stopped records what it established
    before stopping; an object found out of scope leaves nothing in the connector space.
    """
    if run.options.what_if or not run.options.persist:
        return
    result, writes = run.result, run.writes
    status = result.status_info
    writes.run = {"id": result.run_id, "started": iso(result.start_time), "ended": iso(result.end_time),
                  "dn": result.distinguished_name, "action": result.action.value, "status": status.status.value,
                  "error_code": status.error_code, "staging": result.staging_mode, "result": to_adsync(result)}
    if status.status == Status.SKIPPED:
        writes.connector_space = []
    writes.deferrable = (result.staging_mode or result.action == Action.OTHER) and not writes.confirmed_creates
    run.store.commit(writes)
