"""The in-process API: wire the configuration's real connectors (the ports) and store into the step table."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .cache import FileCache, MsalHttpCache, digest
from .config import ADConnector, Config, EntraConnector
from .connectors.ad import ADSession
from .connectors.entra import GraphClient, certificate_credential, token_cache_fingerprint
from .connectors.retry import RetryBudget
from .core.model import ProvisioningStep, SyncResult
from .core.rules import RuleSet
from .errors import AuthenticationError, PyBridgeError
from .notices import Notify
from .scheduler import SyncLock, concurrent_cycle_warning
from .store import Store
from .sync.ports import Directory
from .sync.state import Environment, Options, Progress
from .sync.steps import run_steps

log = logging.getLogger("pybridge")


def ad_session(connector: ADConnector) -> ADSession:
    return ADSession(connector, connector.password.reveal())


def graph_client(config: Config, budget: RetryBudget | None = None, *, persist: bool = True) -> GraphClient:
    """The Tenant port for *config*; with *persist* False (--what-if) its caches are read but never written."""
    entra = config.entra
    credential: str | dict[str, str]
    if entra.certificate is not None:
        password = entra.certificate.key_password.reveal() if entra.certificate.key_password else None
        try:
            credential = certificate_credential(entra.certificate.file, password)
        except (OSError, ValueError, TypeError) as exc:
            raise AuthenticationError(f"The certificate {entra.certificate.file} cannot be used: "
                                      f"{type(exc).__name__}", error_code="AuthenticationFailed",
                                      recommended_action="entra.certificate.file must be a PEM file holding the "
                                                         "certificate and its private key (and key_password_env "
                                                         "for an encrypted key).") from None
    else:
        assert entra.client_secret is not None
        credential = entra.client_secret.reveal()
    files = FileCache(config.state_path.parent, writable=persist)
    http_cache = MsalHttpCache.for_authority(files, f"{entra.authority_host}/{entra.tenant_id}")
    return GraphClient(entra, credential, token_cache_path=token_cache_path(config), budget=budget,
                       save_token_cache=persist, http_cache=http_cache)


def token_cache_path(config: Config) -> Path:
    return config.state_path.parent / f"msal-token-cache-{token_cache_fingerprint(config.entra)}.json"


_RULES: dict[tuple[object, ...], RuleSet] = {}


class ConnectionPool:
    """Graph clients and bound LDAP sessions kept between the syncs of one process.

    The CLI syncs one object per process; the in-process API (pybridge.sync_object in a
    loop) syncs many, and then the TLS handshakes, the LDAP bind, msal's authority
    metadata and the token are paid once instead of once per object.
    """

    def __init__(self) -> None:
        self._graph: dict[tuple[EntraConnector, Path], GraphClient] = {}
        self._ad: dict[ADConnector, ADSession] = {}

    def graph(self, config: Config, notify: Notify | None = None, *, persist: bool = True) -> GraphClient:
        """The Graph client for *config*; its waits and progress are told to *notify* (this run's). Without
        *persist* (what-if) its caches are read but never written."""
        key = (config.entra, token_cache_path(config))  # the settings themselves: never a recycled id
        if key not in self._graph:
            self._graph[key] = graph_client(config, persist=persist)
        client = self._graph[key]
        client.notify = notify
        client.persist = persist  # a client kept from a real run writes nothing during a what-if run
        return client

    def ad(self, connector: ADConnector) -> ADSession:
        session = self._ad.pop(connector, None)
        if session is None:
            return ad_session(connector)
        session.reused = True
        session.operations = 0
        return session

    def release(self, session: Directory, healthy: bool) -> None:
        assert isinstance(session, ADSession)  # the pool only hands out ADSessions
        if healthy and session.conn is not None:
            self._ad[session.connector] = session
        else:
            session.close()

    def close(self) -> None:
        for session in self._ad.values():
            session.close()
        self._ad.clear()
        self._graph.clear()


POOL = ConnectionPool()


def load_rules(config: Config, *, persist: bool = True) -> RuleSet:
    """The configuration's sync rules, compiled once per process; RuleError (a ConfigError) lists every problem.

    Between processes, rules that loaded without a problem are kept in the state directory's cache (not
    written when *persist* is False: --what-if) and rebuilt from it while pybridge and every rule file are
    unchanged, so a run skips YAML, validation and compiling the expressions it does not evaluate.
    """
    key = (config.sync.source_anchor, config.include_default_rules, config.rule_files)
    if key not in _RULES:
        _RULES[key] = _cached_rules(config, persist)
    return _RULES[key]


def find_objects(config: Config, kind: str, value: str) -> list[tuple[str, str]]:
    """The objects *value* names as their *kind* in every configured AD connector: (connector name, DN) each.

    An object reached through two connectors (overlapping partitions) is listed once: objects are told
    apart by their objectGUID. Raises SourceError when a connector's directory cannot be searched.
    """
    found: dict[object, tuple[str, str]] = {}
    for connector in config.ad_connectors:
        session = POOL.ad(connector)
        healthy = False
        try:
            for obj in session.find(kind, value):
                guid = next(iter(obj.attributes.get("objectGUID") or []), None)
                found.setdefault(guid if guid is not None else (connector.name, obj.dn), (connector.name, obj.dn))
            healthy = True
        finally:
            POOL.release(session, healthy)
    return list(found.values())


def builtin_rules() -> RuleSet:
    """Entra Connect's default rules alone, as a configuration with no rules of its own gets them."""
    from .config import SyncSettings
    return RuleSet.load([], source_anchor=SyncSettings().source_anchor, include_defaults=True)


def _cached_rules(config: Config, persist: bool) -> RuleSet:
    from .core.rules import serial
    from .core.rules.loader import rule_files

    anchor, defaults = config.sync.source_anchor, config.include_default_rules
    files, missing = rule_files(list(config.rule_files), defaults)
    cache = FileCache(config.state_path.parent, writable=persist)
    key = None
    if not missing:  # a missing file is the loader's to report
        try:
            key = digest("rules", serial.FORMAT, _rules_code(), anchor, defaults,
                         *[part for origin, f in files for part in (origin, f.read_bytes())])
        except OSError:
            key = None
    if key is not None:
        payload = cache.load("rules", key)
        if payload is not None:
            try:
                rules, parameters = serial.load(json.loads(payload))
                return RuleSet(rules, parameters, anchor)
            except ValueError:
                pass  # not what we wrote: load the rule files
    ruleset = RuleSet.load(list(config.rule_files), source_anchor=anchor, include_defaults=defaults)
    if key is not None and cache.writable:
        data = serial.dump(ruleset.rules, ruleset.parameters)
        try:
            payload = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
            if serial.load(json.loads(payload))[0] == ruleset.rules:  # only what rebuilds exactly is kept
                cache.save("rules", key, payload)
        except (TypeError, ValueError):
            pass  # a value JSON cannot hold (a YAML date in a constant...): these rules load from YAML
    return ruleset


def _rules_code() -> list[tuple[str, int, int]]:
    """The rules engine's own source files (name, size, mtime): a changed engine (an editable install between
    releases) never reads rules another engine validated."""
    here = Path(__file__).parent / "core" / "rules"
    out = []
    for f in sorted(here.glob("*.py")):
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((f.name, st.st_size, st.st_mtime_ns))
    return out


def sync_object(distinguished_name: str, config: Config, *, staging_mode: bool = False, what_if: bool = False,
                progress: Progress | None = None, store: Store | None = None, wait: float = 0.0,
                warn: Callable[[str], None] | None = None, report_dir: Path | None = None,
                notify: Notify | None = None) -> SyncResult:
    """Synchronise one AD object to Entra ID and return the result of the ten steps.

    Takes the sync lock (waiting up to *wait* seconds for a running sync); raises
    LockError (no-start-ma-already-running) or StateError when the run cannot start.
    With *what_if* nothing is persisted locally: no state directory, state file, lock file or
    token cache is created or changed (the HTML report is still written when *report_dir* is given).
    With *report_dir*, the HTML report is written there (its path lands in the result
    and in the run history); a report that cannot be written is a warning, not a failure.
    *notify* hears of every wait (Graph's throttling and faults, the lock) and of the
    progress of long member writes (pybridge.notices).
    """
    (result,) = sync_objects([distinguished_name], config, staging_mode=staging_mode, what_if=what_if,
                             progress=progress, store=store, wait=wait, warn=warn, report_dir=report_dir,
                             notify=notify)
    return result


#: A batch whose DNs are all at hand commits the runs of unchanged (or staging) objects this many at a time, and
#: at least every GROUP_SECONDS: one fsync per group instead of one per object.
GROUP_RUNS, GROUP_SECONDS = 16, 0.5


def sync_objects(distinguished_names: Iterable[str], config: Config, *, staging_mode: bool = False,
                 what_if: bool = False, progress: Progress | None = None, store: Store | None = None,
                 wait: float = 0.0, warn: Callable[[str], None] | None = None,
                 report_dir: Path | None = None, notify: Notify | None = None,
                 group_commits: bool = False) -> Iterator[SyncResult]:
    """Synchronise several objects in one process: one sync lock, one state store, one LDAP bind and one
    token for all of them; each result is yielded as soon as its object is done and committed (the DNs are
    read lazily, so a caller can feed them as they come). The other arguments are sync_object's.

    With *group_commits* (for DNs that are all at hand: arguments, a file), the runs that wrote nothing to
    Entra ID are committed GROUP_RUNS at a time (or after GROUP_SECONDS) and their results yielded together
    once committed; a run that writes to Entra ID commits the group and itself at once. Never for DNs that
    arrive one by one (a pipe): each result is wanted as soon as its object is done."""

    def write_report(result: SyncResult) -> None:
        if report_dir is None:
            return
        from .report import html
        try:
            result.report_path = str(html.write(result, report_dir))
        except OSError as exc:
            if warn:
                fix = getattr(exc, "fix", None)  # platform.UnsafeFileError says what to do about it
                warn(f"the HTML report could not be written to {report_dir}: {exc.strerror or exc}"
                     + (f" ({fix})" if fix else ""))
        except Exception as exc:  # noqa: BLE001 - the report runs before the commit: it must never cost the
            # run its record (an object created in Entra ID and not recorded would be created again)
            log.debug("the HTML report could not be rendered", exc_info=True)
            if warn:
                warn(f"the HTML report could not be rendered ({type(exc).__name__}: {exc}); the sync itself is "
                     "recorded. Please report the problem (run with -vv for the details).")

    with SyncLock(config, wait=wait, notify=notify, create=not what_if):
        own_store = store is None
        store = store or Store.open(config.state_path, read_only=what_if)
        try:
            if warn:
                concurrent = concurrent_cycle_warning(store)
                if concurrent:
                    warn(concurrent)
            env = Environment(config=config, store=store, rules=load_rules(config, persist=not what_if),
                              directory_for=POOL.ad,
                              tenant_for=lambda cfg: POOL.graph(cfg, notify, persist=not what_if),
                              progress=progress, release_directory=POOL.release)
            options = Options(staging_mode=staging_mode, what_if=what_if)
            if not group_commits:
                for dn in distinguished_names:
                    yield run_steps(env, dn, options, finish=write_report)
                return
            yield from _grouped(store, (run_steps(env, dn, options, finish=write_report)
                                        for dn in distinguished_names))
        finally:
            if own_store:
                store.close()


def _grouped(store: Store, results: Iterator[SyncResult]) -> Iterator[SyncResult]:
    """*results* in order, each handed out only once the state store has committed its run (Store.begin_group)."""
    import time
    done: list[SyncResult] = []
    store.begin_group(GROUP_RUNS)
    try:
        started = time.monotonic()
        try:
            for result in results:
                done.append(result)
                if store.grouped_runs and time.monotonic() - started >= GROUP_SECONDS:
                    store.flush()
                if not store.grouped_runs:  # committed: its own commit, or the group's
                    yield from done
                    done.clear()
                    started = time.monotonic()
        except PyBridgeError:  # a run that could not go on (the state store): the runs before it are kept, shown
            store.end_group()
            yield from done
            raise
        store.end_group()
        yield from done
    finally:
        store.end_group()  # an interrupt, or a reader that stopped: what ran is kept, whether shown or not


__all__ = ["sync_object", "sync_objects", "ProvisioningStep", "SyncResult"]
