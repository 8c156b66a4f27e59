"""Microsoft Graph v1.0: msal client-credential tokens and the calls pybridge makes.

One place (:func:`classify`) turns Graph's answers into pybridge errors; messages
it builds never carry a token or a secret. The HTTP session is a seam: tests and
the lab hand in a session that trusts the lab CA; production builds one here.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import string
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, MutableMapping, Protocol, Sequence, TypeVar
from urllib.parse import quote, urlsplit

import msal
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .. import platform
from ..config import EntraConnector
from ..core.model import CloudObject
from ..errors import AuthenticationError, TargetError
from ..notices import Notify, Progress
from ..sync.ports import WriteDescription
from .retry import RETRIABLE_STATUS, RetryBudget, may_retry

# What matching, conflict checks and read-back always need, besides the properties the rules export.
USER_SELECT = ("id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "mailNickname",
               "accountEnabled", "onPremisesImmutableId", "department", "jobTitle", "proxyAddresses",
               "onPremisesSyncEnabled", "onPremisesProvisioningErrors")
GROUP_SELECT = ("id", "displayName", "mailNickname", "description", "mailEnabled", "securityEnabled",
                "proxyAddresses", "onPremisesSyncEnabled", "onPremisesProvisioningErrors")
CONTACT_SELECT = ("id", "displayName", "mail", "mailNickname", "proxyAddresses", "onPremisesSyncEnabled")
T = TypeVar("T")
BASE_SELECT = {"user": USER_SELECT, "group": GROUP_SELECT, "contact": CONTACT_SELECT}
COLLECTION = {"user": "users", "group": "groups", "contact": "contacts"}  # orgContact lives at /contacts
log = logging.getLogger("pybridge.graph")
MAX_BINDS = 20  # members@odata.bind values per request (group-post-members)
MAX_BATCH = 20  # requests per JSON $batch (json-batching)
MAX_OR_CLAUSES = 15  # clauses under one "or" in a directory $filter


def _plain(obj: dict[str, Any]) -> dict[str, Any]:
    """An object's properties without OData's annotations (@odata.context, @odata.type...)."""
    return {k: v for k, v in obj.items() if not k.startswith("@")}


def _with_manager(obj: dict[str, Any]) -> dict[str, Any]:
    """A user read with $expand=manager($select=id): its properties, and "manager" its manager's id. Graph
    leaves the navigation property out (or null) for a user without a manager."""
    plain = _plain(obj)
    manager = obj.get("manager")
    plain["manager"] = manager.get("id") if isinstance(manager, dict) else None
    return plain


class VerifyingSession(requests.Session):
    """A Session whose CA choice is passed on every request.

    requests lets REQUESTS_CA_BUNDLE override a Session's ``verify``; a per-request
    ``verify`` is kept, so a private CA configured in pybridge is really used.
    """

    def __init__(self, verify: bool | str, timeout: float = 30.0) -> None:
        super().__init__()
        self._verify = verify
        self._timeout = timeout
        self.request_count = 0
        self._environment: dict[tuple[object, ...], Any] = {}
        # urllib3 retries only connections that failed before anything was sent (safe for every
        # method); answers and timeouts are retried by GraphClient under the run's RetryBudget.
        retry = Retry(total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.5, raise_on_status=False)
        self.mount("https://", HTTPAdapter(max_retries=retry))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self._verify
        kwargs.setdefault("timeout", self._timeout)
        # a redirect would carry the request (a new user's password, a token request's secret) to wherever the
        # answer points: never followed; classify() reports it
        kwargs["allow_redirects"] = False
        self.request_count += 1
        return super().request(method, url, *args, **kwargs)

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        """requests' settings from the environment (proxies, NO_PROXY, REQUESTS_CA_BUNDLE), read once per origin
        and arguments for this session's life: requests reads the whole environment three times per request
        (about 1 ms, the largest cost of an unchanged object in a batch)."""
        key = (_origin(url.decode() if isinstance(url, bytes) else str(url)),
               tuple(sorted((proxies or {}).items())), stream, verify, cert)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {k: dict(v) if isinstance(v, dict) else v for k, v in self._environment[key].items()}


#: The token cache is a few kilobytes; a larger file there is not msal's.
TOKEN_CACHE_LIMIT = 1 << 20
_DEFAULT_PORTS = {"https": 443, "http": 80}


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of *url*, lower-cased, with the scheme's default port filled in."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("", url, None)  # not a URL that can be compared: never equal to the endpoint's
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme))


def _origin_text(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}" if scheme else repr(url[:200])


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def random_password(length: int = 24) -> str:
    """A strong random password meeting Entra's complexity rules; never stored or shown."""
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#$%&*+-=?@^_"]
    chars = [secrets.choice(c) for c in classes]
    alphabet = "".join(classes)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _host_port(exc: BaseException) -> str | None:
    own = getattr(exc, "__dict__", {})  # instance attributes only: urllib3's deprecated properties warn
    for holder in (own.get("conn"), own.get("pool")):
        host = getattr(holder, "host", None)
        if host:
            port = getattr(holder, "port", None)
            return f"{host}:{port}" if port else str(host)
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str) and url:
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        return parts.netloc or None
    return None


def connection_problem(exc: BaseException) -> str:
    """What went wrong with a connection, in pybridge's words ("127.0.0.1:443 refused the connection").

    requests and urllib3 wrap the real cause in several layers whose text is their own repr
    ("HTTPSConnectionPool(host=...): Max retries exceeded ... NewConnectionError(...)"); this walks the
    layers to the cause and names it with the host and port, and nothing else.
    """
    import socket
    import ssl

    chain: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(chain) < 20:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is c for c in chain):
            continue
        chain.append(e)
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__, *getattr(e, "args", ())]
    where = next((h for h in map(_host_port, chain) if h), None) or "the server"
    names = {type(e).__name__ for e in chain}

    def has(*kinds: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kinds)), None)

    cert = has(ssl.SSLCertVerificationError)
    if cert is not None:
        why = getattr(cert, "verify_message", None) or "not trusted"
        return (f"the TLS certificate of {where} was not accepted ({why}); entra.ca_file names the CA to trust")
    if has(ssl.SSLError) is not None or "SSLError" in names:
        return f"the TLS handshake with {where} failed"
    if has(socket.gaierror) is not None or "NameResolutionError" in names:
        return f"the name {where.rsplit(':', 1)[0]} could not be resolved"
    if has(ConnectionRefusedError) is not None:
        return f"{where} refused the connection"
    if "ConnectTimeout" in names or "ConnectTimeoutError" in names:
        return f"{where} did not accept a connection in time"
    if "ReadTimeout" in names or "ReadTimeoutError" in names or has(TimeoutError) is not None:
        return f"{where} did not answer in time"
    unreachable = next((e for e in chain if isinstance(e, OSError) and e.errno in (101, 113, 10051, 10065)), None)
    if unreachable is not None:
        return f"{where} is unreachable (no route to it)"
    if has(ConnectionResetError, ConnectionAbortedError) is not None or \
            names & {"RemoteDisconnected", "ProtocolError", "ChunkedEncodingError"}:
        return f"{where} closed the connection without an answer"
    return f"the connection to {where} failed ({type(chain[-1]).__name__})"


def token_roles(token: str) -> list[str] | None:
    """The application permissions in an access token's ``roles`` claim, or None when it has none.

    The payload is read without verifying the signature: only to tell an admin which permissions the
    app holds (Graph verifies the token itself on every call).
    """
    import base64
    import binascii

    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return [str(r) for r in roles] if isinstance(roles, list) else None


def _doing(what: str) -> str:
    """\"Looking up users where ...\" -> \"looking up users\": the request named for a person, without its filter."""
    short = what.split(" where ", 1)[0]
    return short[:1].lower() + short[1:]


class ErrorAnswer(Protocol):
    """What classify() reads of an answer: a requests.Response, or an inner $batch answer (_InnerResponse)."""

    status_code: int
    reason: str

    @property
    def headers(self) -> Mapping[str, Any]: ...

    def json(self) -> Any: ...


def classify(response: ErrorAnswer, what: str, waited: float = 0.0) -> TargetError:
    """Graph's error answer -> a TargetError with the ErrorCode the admin sees."""
    try:
        err = response.json().get("error", {})
    except ValueError:
        err = {}
    if not isinstance(err, dict):
        err = {}
    graph_code = err.get("code") or f"HTTP{response.status_code}"
    message = err.get("message") or response.reason or "no message"
    details = err.get("details") or []
    request_id = response.headers.get("request-id") or (err.get("innerError") or {}).get("request-id")
    status = response.status_code
    conflict = next((d for d in details if isinstance(d, dict) and d.get("code") == "ObjectConflict"), None)
    # ConflictingObjects names the holders, e.g. target "User_<id>" (the emulator follows the shape Entra ID
    # reports for duplicate-attribute errors; the ids are read, the prefix ignored)
    holders = [str(d.get("target") or "").rsplit("_", 1)[-1] for d in details
               if isinstance(d, dict) and d.get("code") == "ConflictingObjects" and d.get("target")]
    if conflict is not None or "Another object with the same value for property" in message:
        code = "AttributeValueMustBeUnique"
    elif status in (401, 403):
        code = "GraphAuthorizationFailed"
    elif status == 404:
        code = "GraphResourceNotFound"
    elif status == 429:
        code = "Throttled"
        message += (f" (still throttled after waiting {waited:.0f} s in all; the wait limit is "
                    "entra.retry.max_wait)")
    elif status >= 500:
        code = "GraphServiceError"
    elif 300 <= status < 400:
        code = "GraphLinkNotTrusted"
        message = (f"a redirect to {_origin_text(response.headers.get('Location') or '?')}, which pybridge does "
                   "not follow")
    else:
        code = "GraphBadRequest"
    return TargetError(f"{what} failed: Graph answered {status} {graph_code}: {message}", error_code=code,
                       status=status, graph_code=graph_code, request_id=request_id,
                       target=(conflict or {}).get("target"), holders=holders,
                       replicating=_not_visible_yet(status, message))


def _not_visible_yet(status: int, message: str) -> bool:
    """Graph's answers about an object it does not show yet: 404, or a reference to it "does not exist".

    A new object may answer "Not Found" for a while after its create (eventual consistency, "Designing for
    eventual consistency for Microsoft Entra"; group-post-members: "Resource ... does not exist or one of its
    queried reference-property objects are not present").
    """
    text = message.lower()
    # group-post-members / group-post-groups: 400 "The source resource object or one of the objects being referenced
    # do not exist."; a reference to an object Graph does not show: "Resource '<id>' does not exist or one of its
    # queried reference-property objects are not present." (Not any 400 saying "does not exist": an unknown
    # property's "Property 'x' does not exist as a declared property" is no replication delay.)
    return status == 404 or (status == 400 and ("being referenced do not exist" in text
                                                 or "queried reference-property objects" in text))


class GraphClient:
    """The Tenant port over Microsoft Graph v1.0, authenticated with msal's client-credential flow."""

    def __init__(self, entra: EntraConnector, credential: str | dict[str, str], *,
                 session: requests.Session | None = None, token_cache_path: Path | None = None,
                 save_token_cache: bool = True, budget: RetryBudget | None = None,
                 notify: Notify | None = None, http_cache: MutableMapping[str, Any] | None = None) -> None:
        self.entra = entra
        self.notify = notify  # told of waits and of the progress of long member writes
        self.budget = budget or RetryBudget(max_wait=entra.retry_max_wait, max_attempts=entra.retry_max_attempts,
                                            notify=notify)
        verify: bool | str = False if not entra.verify_tls else (str(entra.ca_file) if entra.ca_file else True)
        self.session = session or VerifyingSession(verify, entra.timeout)
        self.base = f"{entra.graph_endpoint}/v1.0"
        self._cache = msal.SerializableTokenCache()
        self._cache_path = token_cache_path
        if token_cache_path and token_cache_path.exists():
            try:
                # never through a link, and bounded: a file planted there only costs one token request
                self._cache.deserialize(platform.read_regular_file(
                    token_cache_path, TOKEN_CACHE_LIMIT, follow_links=False, what="token cache").decode("utf-8"))
            except (OSError, ValueError):
                pass  # a damaged cache only costs one token request
        self._credential = credential
        # msal's HTTP cache (the authority's OpenID metadata; pybridge.cache.MsalHttpCache keeps it in a file)
        self._http_cache = http_cache
        self.persist = save_token_cache  # False under what-if: the token and HTTP caches are read, never written
        self._app: msal.ConfidentialClientApplication | None = None
        self._token: str | None = None
        self._token_until = 0.0
        self._token_from_cache = False
        self.requests = 0
        self._domains: list[dict[str, Any]] | None = None
        self._expand_manager = True  # False once the service refused $expand=manager on one user

    # -- token ------------------------------------------------------------------------------------
    def start_run(self) -> None:
        """A client kept between syncs (the in-process API): each run gets its own retry budget."""
        self.budget = RetryBudget(max_wait=self.entra.retry_max_wait, max_attempts=self.entra.retry_max_attempts,
                                  notify=self.notify)
        self.requests = 0
        self._domains = None

    def token(self) -> str:
        """A token for Graph: msal's cache answers until it nears expiry, then msal asks anew."""
        if self._token and time.monotonic() < self._token_until:
            return self._token
        scope = [f"{self.entra.graph_endpoint}/.default"]
        try:
            if self._app is None:  # msal reads the authority's OIDC metadata here (from its HTTP cache if kept)
                self._app = msal.ConfidentialClientApplication(
                    self.entra.client_id, client_credential=self._credential,
                    authority=f"{self.entra.authority_host}/{self.entra.tenant_id}", instance_discovery=False,
                    http_client=self.session, token_cache=self._cache, timeout=self.entra.timeout,
                    http_cache=self._http_cache)
            result = self._app.acquire_token_for_client(scopes=scope)
        except ValueError:
            # msal could not read {authority}/v2.0/.well-known/openid-configuration: the tenant is unknown there
            raise AuthenticationError(
                f"The authority {self.entra.authority_host} does not know tenant {self.entra.tenant_id!r} "
                "(its OpenID configuration could not be read).", error_code="TenantNotFound",
                recommended_action="Check entra.tenant_id (the directory (tenant) id or a verified domain of the "
                                   "tenant) and entra.authority_host (national clouds have their own).") from None
        except requests.RequestException as exc:
            raise AuthenticationError(
                f"No token could be had from {self.entra.authority_host}: {connection_problem(exc)}.",
                error_code="GraphUnavailable",
                recommended_action="Check network access and TLS trust (entra.ca_file) for entra.authority_host.") \
                from None
        if "access_token" not in result:
            raise self._token_error(result)
        self._save_cache()
        save_http_cache = getattr(self._http_cache, "save", None)
        if self.persist and save_http_cache is not None:
            save_http_cache()
        self._token = result["access_token"]
        # reuse it in this process for at most 5 minutes; msal's cache renews it before it expires
        self._token_until = time.monotonic() + min(300, max(0, int(result.get("expires_in", 300)) - 300))
        self._token_from_cache = result.get("token_source") == "cache"
        log.info("token for app %s in tenant %s (%s)", self.entra.client_id, self.entra.tenant_id,
                 "from msal's token cache" if self._token_from_cache else f"from {self.entra.authority_host}")
        return self._token

    def granted_roles(self) -> list[str] | None:
        """The application permissions the app holds, from its token's roles claim (None: no such claim)."""
        return token_roles(self.token())

    def _token_error(self, result: dict[str, Any]) -> AuthenticationError:
        error = result.get("error", "unknown_error")
        desc = (result.get("error_description") or "").splitlines()[0]
        codes = set(result.get("error_codes") or [])
        # AADSTS90002 InvalidTenantName, AADSTS900023 InvalidTenantIdentifier (Microsoft Entra authentication
        # and authorization error codes, learn.microsoft.com/entra/identity-platform/reference-error-codes)
        if codes & {90002, 900023} or "tenant" in desc.lower() and "not found" in desc.lower():
            code, action = "TenantNotFound", "Check entra.tenant_id and entra.authority_host."
        elif codes & {7000215, 7000222, 700027, 700024}:
            code = "AuthenticationFailed"
            action = ("The client secret or certificate is wrong or expired: create a new one in the app "
                      "registration and update " + ("entra.certificate.file" if self.entra.certificate else
                                                    "the client secret (entra.client_secret_env/_file)") + ".")
        elif codes & {700016}:
            code, action = "AuthenticationFailed", "Check entra.client_id: the application was not found in the tenant."
        elif codes & {65001, 500011}:
            code, action = "GraphAuthorizationFailed", "Grant admin consent to the app's Graph permissions."
        else:
            code, action = "AuthenticationFailed", "Check entra.tenant_id, entra.client_id and the credential."
        return AuthenticationError(f"Microsoft Entra ID refused the token request: {error}: {desc}",
                                   error_code=code, recommended_action=action, graph_code=error)

    def _save_cache(self) -> None:
        if self._cache_path is None or not self.persist or not self._cache.has_state_changed:
            return
        try:
            # a new owner-only temporary file (O_EXCL, unpredictable name) renamed into place: a link planted
            # at either name is never written through, and a directory others can write to is not used
            platform.trusted_dir(self._cache_path.parent, "state directory")
            platform.write_private_atomic(self._cache_path, self._cache.serialize())
        except OSError:
            pass  # the cache is an optimisation; a run never fails for it

    # -- HTTP -------------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, what: str, params: dict[str, str] | None = None,
             body: Any = None, ok: tuple[int, ...] = (200, 201, 204), allow_404: bool = False) -> Any:
        resp = self.send(method, path, params=params, body=body, what=what)
        if allow_404 and resp.status_code == 404:
            return None
        if resp.status_code not in ok:
            raise classify(resp, what, waited=self.budget.waited)
        if resp.status_code == 204 or not resp.content:
            return {}
        try:
            return resp.json()
        except ValueError:
            raise TargetError(f"{what}: Graph answered {resp.status_code} with a body that is not JSON",
                              error_code="GraphServiceError") from None

    def send(self, method: str, path: str, *, what: str, params: dict[str, str] | None = None,
             body: Any = None) -> requests.Response:
        """One logical request: retried under the run's budget as retry.may_retry allows.

        *path* is relative to the Graph endpoint, or an absolute URL Graph handed out (``@odata.nextLink``);
        an absolute URL is followed only to the configured endpoint's scheme, host and port, so the bearer
        token never goes anywhere else.
        """
        url = self._url(path, what)
        attempt = 0
        refreshed = False
        while True:
            try:
                resp = self._send(method, url, params, body, what)
            except TargetError as exc:
                delay = self.budget.next_delay(attempt, None) if may_retry(method, None) else None
                if delay is None:
                    exc.context["uncertain"] = method.upper() == "POST"
                    raise
                problem = exc.context.get("problem") or exc.message
                self.budget.wait(delay, f"Microsoft Graph could not be reached while {_doing(what)}: {problem}")
                attempt += 1
                continue
            if resp.status_code == 401 and self._token_from_cache and not refreshed:
                # A cached token Graph no longer accepts (revoked, or issued before a reset): drop the
                # cache and ask once for a fresh token.
                self._forget_token()
                refreshed = True
                continue
            if resp.status_code in RETRIABLE_STATUS and may_retry(method, resp.status_code):
                asked = resp.headers.get("Retry-After")
                delay = self.budget.next_delay(attempt, asked)
                if delay is not None:
                    self.budget.wait(delay, self._wait_cause(resp.status_code, resp.reason, asked, what))
                    attempt += 1
                    continue
            return resp

    @staticmethod
    def _wait_cause(status: int, reason: str | None, retry_after: str | None, what: str) -> str:
        """Why a request is repeated, for a person: who answered what, and what it asked for."""
        answer = f"{status} {reason}".strip() if reason else str(status)
        asked = f", Retry-After: {retry_after.strip()}" if retry_after else ", no Retry-After: backing off"
        verb = "throttled" if status == 429 else "is unavailable for" if status == 503 else "failed"
        return f"Microsoft Graph {verb} {_doing(what)} ({answer}{asked})"

    def _url(self, path: str, what: str) -> str:
        if not isinstance(path, str):
            raise TargetError(f"{what}: Microsoft Graph's answer holds a link that is not a URL",
                              error_code="GraphLinkNotTrusted")
        parts = urlsplit(path)
        if not parts.scheme and not parts.netloc:
            if not path.startswith("/"):
                path = "/" + path
            return f"{self.base}{path}"
        if _origin(path) != _origin(self.entra.graph_endpoint):
            raise TargetError(
                f"{what}: Microsoft Graph's answer points to {_origin_text(path)}, which is not the configured Graph "
                f"endpoint {_origin_text(self.entra.graph_endpoint)}; pybridge did not follow it (the request would "
                "carry the bearer token)", error_code="GraphLinkNotTrusted")
        return path

    def _send(self, method: str, url: str, params: dict[str, str] | None, body: Any,
              what: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            return self.session.request(method, url, params=params, headers=headers,
                                        data=json.dumps(body) if body is not None else None)
        except requests.RequestException as exc:
            problem = connection_problem(exc)
            raise TargetError(f"{what} failed: Microsoft Graph could not be reached or did not answer: {problem}",
                              error_code="GraphUnavailable", problem=problem,
                              recommended_action=("Check network access to entra.graph_endpoint, then run the "
                                                  "sync again: pybridge looks an object up before creating it, so "
                                                  "a create that reached Graph is never made twice.")) from None

    def _forget_token(self) -> None:
        self._token = None
        self._token_from_cache = False
        self._cache = msal.SerializableTokenCache()
        self._app = None
        if self._cache_path is not None and self.persist:
            self._cache_path.unlink(missing_ok=True)

    def _pages(self, path: str, params: dict[str, str], what: str) -> Iterator[dict[str, Any]]:
        data = self.call("GET", path, params=params, what=what)
        while True:
            yield from data.get("value", [])
            nxt = data.get("@odata.nextLink")
            if not nxt:
                return
            data = self.call("GET", nxt, what=what)

    # -- the Tenant port: reads ---------------------------------------------------------------------
    def authenticate(self) -> None:
        self.token()

    def select(self, kind: str, properties: Iterable[str] = ()) -> list[str]:
        """The properties read of a *kind*: what matching and checks need, and *properties*."""
        anchor = [self.entra.group_anchor_property] if kind == "group" and self.entra.group_anchor_property else []
        return list(dict.fromkeys([*BASE_SELECT.get(kind, ("id",)), *anchor, *properties]))

    def _select(self, kind: str, properties: Iterable[str]) -> str:
        return ",".join(self.select(kind, properties))

    def _find(self, kind: str, filt: str, properties: Iterable[str] = ()) -> list[dict[str, Any]]:
        params = {"$filter": filt, "$select": self._select(kind, properties)}
        return [_plain(o) for o in self._pages(f"/{COLLECTION[kind]}", params, f"Looking up {kind}s where {filt}")]

    def get(self, kind: str, object_id: str, properties: Iterable[str] = (), *,
            with_manager: bool = False) -> dict[str, Any] | None:
        params = {"$select": self._select(kind, properties)}
        path, what = f"/{kind}s/{quote(object_id, safe='')}", f"Reading {kind} {object_id}"
        if with_manager and kind == "user" and self._expand_manager:
            # user-list-manager: GET /users/{id}?$expand=manager, one request instead of two
            try:
                found = self.call("GET", path, params={**params, "$expand": "manager($select=id)"}, what=what,
                                  allow_404=True)
                return _with_manager(found) if found is not None else None
            except TargetError as exc:
                if exc.status != 400:
                    raise
                # a service (a national cloud, a proxy, a test double) that refuses the expansion: the two
                # documented reads instead, for the rest of this client's life
                log.info("Graph refused $expand=manager on one user (%s); reading the manager on its own",
                         exc.graph_code or exc.status)
                self._expand_manager = False
        found = self.call("GET", path, params=params, what=what, allow_404=True)
        if found is None:
            return None
        plain = _plain(found)
        if with_manager and kind == "user":
            plain["manager"] = self.manager_id(str(plain.get("id") or object_id))
        return plain

    def find_by_anchor(self, kind: str, source_anchor: str, properties: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Users by onPremisesImmutableId; groups by the app's directory extension property, where configured
        (Graph has no source anchor of its own on groups)."""
        prop = "onPremisesImmutableId" if kind == "user" else self.entra.group_anchor_property
        if not prop:
            return []
        return self._find(kind, f"{prop} eq {odata_quote(source_anchor)}", properties)

    def address_holders(self, *, user_principal_name: str | None = None, addresses: Iterable[str] = (),
                        kinds: Sequence[str] = ("user", "group"),
                        properties: Iterable[str] = ()) -> list[CloudObject]:
        """One query per kind: the UPN (users), and each address as mail or any proxy address.

        Directory string comparisons are case-insensitive, so 'smtp:' finds primary (SMTP:) and secondary
        (smtp:) addresses alike; the caller tells them apart by the prefix's case.
        """
        holders: list[CloudObject] = []
        for kind in kinds:
            clauses = []
            if user_principal_name and kind == "user":
                clauses.append(f"userPrincipalName eq {odata_quote(user_principal_name)}")
            for address in addresses:
                clauses += [f"mail eq {odata_quote(address)}",
                            f"proxyAddresses/any(p:p eq {odata_quote('smtp:' + address)})"]
            seen: set[str] = set()
            # Graph refuses a directory $filter with more than 15 clauses under one "or" (Request_UnsupportedQuery
            # "Too many child clauses ... Max allowed: 15."): an object with many addresses is asked in parts
            for i in range(0, len(clauses), MAX_OR_CLAUSES):
                for o in self._find(kind, " or ".join(clauses[i:i + MAX_OR_CLAUSES]), properties):
                    if o.get("id") not in seen:
                        seen.add(str(o.get("id")))
                        holders.append(CloudObject(kind, o))
        return holders

    def directory_roles(self, user_id: str) -> list[dict[str, Any]]:
        """Every page of the user's memberOf (user-list-memberof), keeping the directory roles."""
        pages = self._pages(f"/users/{quote(user_id, safe='')}/memberOf",
                            {"$select": "id,displayName,roleTemplateId", "$top": "999"},
                            f"Reading the roles of user {user_id}")
        return [_plain(m) for m in pages if m.get("@odata.type") == "#microsoft.graph.directoryRole"]

    def verified_domains(self) -> list[dict[str, Any]]:
        """The tenant's domains (read once per client: they change rarely, and every user export checks them)."""
        if self._domains is None:
            self._domains = [_plain(d) for d in self.call(
                "GET", "/domains", what="Reading the tenant's domains",
                params={"$select": "id,isVerified,isDefault,isInitial,authenticationType"}).get("value", [])]
        return self._domains

    def member_ids(self, group_id: str) -> list[str]:
        return [m["id"] for m in self._pages(f"/groups/{group_id}/members", {"$select": "id", "$top": "999"},
                                               f"Reading the members of group {group_id}")]

    def manager_id(self, user_id: str) -> str | None:
        found = self.call("GET", f"/users/{user_id}/manager", params={"$select": "id"},
                          what=f"Reading the manager of user {user_id}", allow_404=True)
        return found.get("id") if found else None

    def find_created(self, kind: str, source_anchor: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The object a create of *body* made: by its source anchor, then by the UPN it was given (users) or
        by its names (groups without an anchor property). A UPN holder counts only if it carries the anchor."""
        hits = self.find_by_anchor(kind, source_anchor)
        if not hits and kind == "user" and body.get("userPrincipalName"):
            hits = [u for u in self._find("user", f"userPrincipalName eq {odata_quote(str(body['userPrincipalName']))}")
                    if u.get("onPremisesImmutableId") == source_anchor]
        if not hits and kind == "group" and not self.entra.group_anchor_property:
            hits = self._find("group", f"mailNickname eq {odata_quote(str(body['mailNickname']))} and "
                              f"displayName eq {odata_quote(str(body['displayName']))}")
        return hits[0] if len(hits) == 1 else None

    def read_back(self, kind: str, object_id: str, properties: Iterable[str] = ()) -> dict[str, Any] | None:
        """The object just written; while Graph does not show it yet, wait and ask again within the budget."""
        attempt = 0
        while True:
            found = self.get(kind, object_id, properties)
            if found is not None or not self.backoff(attempt):
                return found
            attempt += 1

    # -- the Tenant port: writes --------------------------------------------------------------------
    def _create_body(self, kind: str, body: dict[str, Any], members: Sequence[str] = (),
                     source_anchor: str | None = None) -> dict[str, Any]:
        out = dict(body)
        if kind == "group" and source_anchor and self.entra.group_anchor_property:
            out[self.entra.group_anchor_property] = source_anchor
        if kind == "user":
            # Graph requires a password to create a user; pybridge never syncs password hashes, so the
            # user gets an unguessable one nobody knows, and must set their own (SSPR, TAP or an admin reset).
            out["passwordProfile"] = {"forceChangePasswordNextSignIn": True, "password": random_password()}
        else:
            out.setdefault("mailEnabled", False)
            out.setdefault("securityEnabled", True)
            if members:
                out["members@odata.bind"] = [self._ref(m) for m in members[:MAX_BINDS]]
        return out

    def create(self, kind: str, body: dict[str, Any], *, members: Sequence[str] = (),
               source_anchor: str | None = None) -> dict[str, Any]:
        """POST the object (a group with its first 20 members bound, and its source anchor where configured).

        A group binding a member Graph does not show yet is refused with 400 "... do not exist" (group-post-groups,
        eventual consistency): nothing was created, so the same POST is sent again within the run's budget.
        """
        payload = self._create_body(kind, body, members, source_anchor)
        return _plain(self._while_replicating(
            lambda: self.call("POST", f"/{kind}s", body=payload, what=f"Creating the {kind}", ok=(201,)),
            refusals_only=True))

    def members_in_create(self) -> int:
        return MAX_BINDS

    def _while_replicating(self, write: Callable[[], T], *, refusals_only: bool = False) -> T:
        """A write that names a new object (or one just written) is sent again while Graph answers that the
        object does not exist yet, within the run's budget; then the error stands. *refusals_only*: only a 400
        (a request Graph refused, so one that changed nothing) is sent again."""
        attempt = 0
        while True:
            try:
                return write()
            except TargetError as exc:
                if not exc.context.get("replicating") or (refusals_only and exc.status != 400) \
                        or not self.backoff(attempt):
                    raise
                attempt += 1

    def update(self, kind: str, object_id: str, body: dict[str, Any]) -> None:
        self.call("PATCH", f"/{kind}s/{object_id}", body=body, what=f"Updating {kind} {object_id}", ok=(204, 200))

    def set_manager(self, user_id: str, manager_id: str) -> None:
        self._while_replicating(lambda: self.call(
            "PUT", f"/users/{user_id}/manager/$ref", body={"@odata.id": self._ref(manager_id)},
            what=f"Setting the manager of user {user_id}", ok=(204,)))

    def remove_manager(self, user_id: str) -> None:
        self.call("DELETE", f"/users/{user_id}/manager/$ref", what=f"Removing the manager of user {user_id}",
                  ok=(204, 404))

    def _ref(self, object_id: str) -> str:
        return f"{self.base}/directoryObjects/{object_id}"

    def change_members(self, group_id: str, adds: Sequence[str], removes: Sequence[str], *,
                       added_before: int = 0) -> int:
        """Add and remove members: members@odata.bind 20 per PATCH, $ref removals, 20 of those per $batch.

        Returns the number of $batch requests made. An add of a member that is already there and a
        removal of one that is already gone count as done (the change is idempotent). When the change
        takes more than one $batch, the notifier hears how far it is after each one.
        """
        return self._change_members(group_id, adds, removes, added_before)

    def _change_members(self, group_id: str, adds: Sequence[str], removes: Sequence[str],
                        added_before: int = 0) -> int:
        inner: list[tuple[dict[str, Any], int, int]] = []  # (request, members it adds, members it removes)
        for i in range(0, len(adds), MAX_BINDS):  # Graph binds at most 20 members per request
            chunk = adds[i:i + MAX_BINDS]
            inner.append(({"method": "PATCH", "url": f"/groups/{group_id}",
                           "headers": {"Content-Type": "application/json"},
                           "body": {"members@odata.bind": [self._ref(m) for m in chunk]}}, len(chunk), 0))
        for m in removes:
            inner.append(({"method": "DELETE", "url": f"/groups/{group_id}/members/{m}/$ref"}, 0, 1))
        batches = 0
        added, removed = added_before, 0
        long_write = len(inner) > MAX_BATCH
        for i in range(0, len(inner), MAX_BATCH):  # a JSON batch holds at most 20 requests
            part = inner[i:i + MAX_BATCH]  # idempotent: an add already made or a removal already done is fine
            self._while_replicating(lambda: self.batch([r for r, _, _ in part],
                                                       what=f"Changing the members of group {group_id}"))
            batches += 1
            added += sum(a for _, a, _ in part)
            removed += sum(r for _, _, r in part)
            if long_write and self.notify is not None:
                if adds:
                    self.notify(Progress("members", added, added_before + len(adds), "added"))
                if removes and (removed or not adds):
                    self.notify(Progress("members", removed, len(removes), "removed"))
        return batches

    # -- the Tenant port: staging mode and waiting --------------------------------------------------
    def describe_write(self, kind: str, body: dict[str, Any], object_id: str | None = None) -> WriteDescription:
        if object_id is not None:
            return WriteDescription(f"PATCH {self.base}/{kind}s/{object_id}", dict(body))
        shown = dict(body)
        if kind == "user":
            shown["passwordProfile"] = {"forceChangePasswordNextSignIn": True, "password": "(random, never stored)"}
        else:
            shown.setdefault("mailEnabled", False)
            shown.setdefault("securityEnabled", True)
        return WriteDescription(f"POST {self.base}/{kind}s", shown)

    def describe_manager_change(self, manager_id: str | None) -> str:
        return f"PUT manager/$ref -> {manager_id}" if manager_id else "DELETE manager/$ref"

    def backoff(self, attempt: int, why: str | None = None) -> bool:
        delay = self.budget.next_delay(attempt, None)
        if delay is None:
            return False
        self.budget.wait(max(delay, 0.5 * 2 ** attempt),
                         why or "Microsoft Graph may not show a recent write yet (replication)", then="looking again")
        return True

    def app_directory_roles(self) -> list[dict[str, Any]]:
        """The directory roles held by this app's service principal (serviceprincipal-list-memberof)."""
        pages = self._pages(f"/servicePrincipals(appId={odata_quote(self.entra.client_id)})/memberOf",
                            {"$select": "id,displayName,roleTemplateId", "$top": "999"},
                            "Reading the directory roles of this app")
        return [_plain(m) for m in pages if m.get("@odata.type") == "#microsoft.graph.directoryRole"]

    # -- bulk reads for a whole-scope scan ----------------------------------------------------------------
    def all_objects(self, kind: str, properties: Iterable[str] = (), *,
                    with_manager: bool = False) -> Iterator[dict[str, Any]]:
        """Every object of *kind*, 999 a page (user-list, group-list, orgcontact-list); users with their
        manager's id through $expand=manager($select=id) (user-list-manager)."""
        params = {"$select": self._select(kind, properties), "$top": "999"}
        if with_manager and kind == "user":
            params["$expand"] = "manager($select=id)"
        for obj in self._pages(f"/{COLLECTION[kind]}", params, f"Reading every {kind} of the tenant"):
            yield _with_manager(obj) if with_manager and kind == "user" else _plain(obj)

    def role_holders(self) -> dict[str, list[dict[str, Any]]]:
        """User id -> the directory roles it holds: the activated roles (directoryrole-list) and their members
        (directoryrole-list-members), a few requests whatever the tenant's size."""
        holders: dict[str, list[dict[str, Any]]] = {}
        roles = self._pages("/directoryRoles", {"$select": "id,displayName,roleTemplateId"},
                            "Reading the tenant's directory roles")
        for role in [_plain(r) for r in roles]:
            members = self._pages(f"/directoryRoles/{role['id']}/members", {"$select": "id", "$top": "999"},
                                  f"Reading the members of directory role {role.get('displayName')}")
            for member in members:
                holders.setdefault(str(member["id"]), []).append(role)
        return holders

    def batch(self, requests_: list[dict[str, Any]], *, what: str) -> list[dict[str, Any]]:
        """One JSON $batch; inner requests Graph throttled (429/503) are sent again under the run's budget."""
        pending = {str(n + 1): dict(r, id=str(n + 1)) for n, r in enumerate(requests_)}
        done: dict[str, dict[str, Any]] = {}
        attempt = 0
        while pending:
            answer = self.call("POST", "/$batch", body={"requests": list(pending.values())}, what=what, ok=(200,))
            retry_after: list[str | None] = []
            for resp in answer.get("responses", []):
                rid, status = str(resp.get("id")), int(resp.get("status", 0))
                if rid not in pending:
                    continue
                if status in (429, 503):
                    headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
                    retry_after.append(headers.get("retry-after"))
                    continue
                req = pending.pop(rid)
                if status >= 400 and not self._benign_member_error(req, status, resp.get("body")):
                    raise classify(_InnerResponse(status, resp), f"{what} ({req['method']} {req['url']})")
                done[rid] = resp
            if pending:
                asked = max((float(r) for r in retry_after if r and r.replace(".", "", 1).isdigit()), default=None)
                delay = self.budget.next_delay(attempt, str(asked) if asked is not None else None)
                if delay is None:
                    raise TargetError(f"{what} failed: Graph throttled {len(pending)} request(s) of a $batch beyond "
                                      f"the wait limit (entra.retry.max_wait, waited {self.budget.waited:.0f} s)",
                                      error_code="Throttled", status=429)
                self.budget.wait(delay, f"Microsoft Graph throttled {len(pending)} of the requests of a $batch "
                                        f"while {_doing(what)}" + (f" (Retry-After: {asked:g})" if asked is not None
                                                                   else " (no Retry-After: backing off)"))
                attempt += 1
        return [done[k] for k in sorted(done, key=int)]

    @staticmethod
    def _benign_member_error(req: dict[str, Any], status: int, body: Any) -> bool:
        message = str(((body or {}).get("error") or {}).get("message", "")).lower() if isinstance(body, dict) else ""
        if req["method"] == "PATCH" and status == 400 and "already exist" in message:
            return True
        return req["method"] == "DELETE" and status == 404


class _InnerResponse:
    """Just enough of requests.Response for classify() to read an inner $batch answer."""

    def __init__(self, status: int, resp: dict[str, Any]) -> None:
        self.status_code = status
        self.headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        self._body = resp.get("body")
        self.reason = ""

    def json(self) -> Any:
        if not isinstance(self._body, dict):
            raise ValueError("no JSON body")
        return self._body


def certificate_credential(pem_path: Path, password: str | None) -> dict[str, str]:
    """msal's certificate credential from one PEM file holding the certificate and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    data = pem_path.read_bytes()
    cert = x509.load_pem_x509_certificate(data)
    key = serialization.load_pem_private_key(data, password=password.encode() if password else None)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return {"private_key": key_pem, "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - x5t is SHA-1 by spec
            "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode()}


def token_cache_fingerprint(entra: EntraConnector) -> str:
    """A file name for the token cache of one app in one tenant and cloud."""
    return hashlib.sha256(f"{entra.authority_host}|{entra.tenant_id}|{entra.client_id}".encode()).hexdigest()[:16]
