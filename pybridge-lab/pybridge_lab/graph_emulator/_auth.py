"""The Microsoft identity platform side: OpenID discovery and the client-credentials grant.

https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
https://learn.microsoft.com/entra/identity-platform/certificate-credentials
Error codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes

Access tokens are RS256 JWTs signed with a key made at start-up (published at jwks_uri), so
they stay valid across reset() and Graph checks them without a token table.
"""
from __future__ import annotations

import base64
import datetime as dt
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from ._odata import GraphError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
TOKEN_LIFETIME = 3599
# Application permissions a sync engine's app registration holds; carried in "roles".
APP_ROLES = ["User.ReadWrite.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All",
             "Directory.Read.All"]
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}


@dataclass
class TokenAnswer:
    status: int
    body: dict


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TokenService:
    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str | None,
                 client_certificate_pem: bytes | None, domains: list[str]) -> None:
        if client_secret is None and client_certificate_pem is None:
            raise ValueError("register a client secret, a client certificate, or both")
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.domains = [d.lower() for d in domains]
        self.cert: x509.Certificate | None = None
        if client_certificate_pem is not None:
            self.cert = x509.load_pem_x509_certificate(client_certificate_pem)
        self.base_url = ""   # set once the server listens
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = _b64url(uuid.uuid4().bytes)
        # Stable object id of the app's service principal (oid/sub claims).
        self.sp_object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{tenant_id}:{client_id}"))

    # ------------------------------------------------------------------ discovery
    def known_tenant(self, tenant: str) -> bool:
        return tenant.lower() in (self.tenant_id.lower(), *self.domains)

    def token_endpoint(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    def openid_configuration(self) -> dict:
        # Shape of https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration;
        # the endpoints always carry the tenant id, as Entra's do.
        t = f"{self.base_url}/{self.tenant_id}"
        return {
            "token_endpoint": f"{t}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{t}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{t}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{t}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{t}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{t}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"],
            "kerberos_endpoint": f"{t}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": self.base_url.split("://", 1)[-1],
            "rbac_url": "https://pas.windows.net",
        }

    def jwks(self) -> dict:
        nums = self._key.public_key().public_numbers()
        return {"keys": [{
            "kty": "RSA", "use": "sig", "kid": self._kid, "alg": "RS256",
            "n": _b64url(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(nums.e.to_bytes(3, "big")),
            "issuer": f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
        }]}

    def unknown_tenant(self, tenant: str, correlation_id: str) -> TokenAnswer:
        return self._error(400, "invalid_request", 90002,
                           f"Tenant '{tenant}' not found. Check to make sure you have the "
                           "correct tenant ID and are signing into the correct cloud.",
                           correlation_id)

    # ------------------------------------------------------------------ token endpoint
    def _error(self, status: int, error: str, code: int, text: str,
               correlation_id: str) -> TokenAnswer:
        trace = str(uuid.uuid4())
        ts = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        return TokenAnswer(status, {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: "
                                 f"{correlation_id} Timestamp: {ts}",
            "error_codes": [code], "timestamp": ts, "trace_id": trace,
            "correlation_id": correlation_id,
            "error_uri": f"{self.base_url}/error?code={code}",
        })

    def issue(self, tenant: str, form: dict[str, str], correlation_id: str) -> TokenAnswer:
        if not self.known_tenant(tenant):
            return self.unknown_tenant(tenant, correlation_id)
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return self._error(400, "unsupported_grant_type", 70003,
                               "The app requested an unsupported grant type "
                               f"'{grant}'.", correlation_id)
        client_id = form.get("client_id")
        if not client_id:
            return self._error(400, "invalid_request", 900144, "The request body must contain "
                               "the following parameter: 'client_id'.", correlation_id)
        if client_id != self.client_id:
            return self._error(400, "unauthorized_client", 700016,
                               f"Application with identifier '{client_id}' was not found in "
                               f"the directory '{self.tenant_id}'. This can happen if the "
                               "application has not been installed by the administrator of "
                               "the tenant or consented to by any user in the tenant.",
                               correlation_id)
        scopes = [s for s in form.get("scope", "").split() if s not in _RESERVED_SCOPES]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return self._error(400, "invalid_scope", 1002012,
                               f"The provided value for scope {form.get('scope', '')} is not "
                               "valid. Client credential flows must have a scope value with "
                               "/.default suffixed to the resource identifier (application ID "
                               "URI).", correlation_id)
        resource = scopes[0][: -len("/.default")]
        if resource.rstrip("/") not in self.graph_audiences():
            return self._error(400, "invalid_resource", 500011,
                               f"The resource principal named {resource} was not found in the "
                               f"tenant named {self.tenant_id}. This can happen if the "
                               "application has not been installed by the administrator of "
                               "the tenant or consented to by any user in the tenant. You "
                               "might have sent your authentication request to the wrong "
                               "tenant.", correlation_id)
        if form.get("client_assertion") is not None:
            failure = self._check_assertion(tenant, form, correlation_id)
            acr = "2"
        elif form.get("client_secret") is not None:
            failure = self._check_secret(form["client_secret"], correlation_id)
            acr = "1"
        else:
            failure = self._error(401, "invalid_client", 7000216,
                                  "'client_assertion', 'client_secret' or 'request' is "
                                  "required for the 'client_credentials' grant type.",
                                  correlation_id)
            acr = ""
        if failure is not None:
            return failure
        return TokenAnswer(200, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                                 "ext_expires_in": TOKEN_LIFETIME,
                                 "access_token": self._mint(resource.rstrip("/"), acr)})

    def _check_secret(self, secret: str, correlation_id: str) -> TokenAnswer | None:
        if self.client_secret is not None and hmac.compare_digest(
                secret.encode(), self.client_secret.encode()):
            return None
        return self._error(401, "invalid_client", 7000215,
                           "Invalid client secret provided. Ensure the secret being sent in "
                           "the request is the client secret value, not the client secret "
                           f"ID, for a secret added to app '{self.client_id}'.",
                           correlation_id)

    def _check_assertion(self, tenant: str, form: dict[str, str],
                         correlation_id: str) -> TokenAnswer | None:
        assertion = form["client_assertion"]
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return self._error(400, "invalid_request", 50027,
                               "client_assertion_type must be "
                               f"'{ASSERTION_TYPE}'.", correlation_id)

        def bad_sig(reason: str) -> TokenAnswer:
            return self._error(401, "invalid_client", 700027,
                               f"Client assertion failed signature validation. [Reason - "
                               f"{reason}]", correlation_id)
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return self._error(400, "invalid_request", 50027, "JWT token is invalid or "
                               "malformed.", correlation_id)
        if self.cert is None:
            return bad_sig("The key was not found., Thumbprint of key used by client: "
                           f"'{header.get('x5t#S256') or header.get('x5t')}'")
        # certificate-credentials: the header names the certificate by x5t#S256 (SHA-256
        # thumbprint, with PS256) or x5t (SHA-1 thumbprint, with RS256).
        want = {"x5t#S256": _b64url(self.cert.fingerprint(hashes.SHA256())),
                "x5t": _b64url(self.cert.fingerprint(hashes.SHA1()))}  # noqa: S303
        named = [(k, header[k]) for k in ("x5t#S256", "x5t") if k in header]
        # msal pads its base64url thumbprints with "="; Entra accepts either form.
        if not named or any(want[k] != str(v).rstrip("=") for k, v in named):
            used = named[0][1] if named else None
            return bad_sig(f"The key was not found., Thumbprint of key used by client: "
                           f"'{used}'")
        audiences = [self.token_endpoint(), f"{self.base_url}/{tenant}/oauth2/v2.0/token"]
        try:
            claims = jwt.decode(assertion, self.cert.public_key(),  # type: ignore[arg-type]
                                algorithms=["RS256", "PS256"], audience=audiences,
                                issuer=self.client_id, leeway=300,
                                # nbf is checked when present; msal does not send it.
                                options={"require": ["exp", "aud", "iss", "sub"]})
        except jwt.InvalidSignatureError:
            return bad_sig("The provided signature value did not match the expected "
                           "signature value.")
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            return self._error(401, "invalid_client", 700024, "Client assertion is not "
                               "within its valid time range.", correlation_id)
        except jwt.InvalidAudienceError:
            return self._error(401, "invalid_client", 50027, "JWT token is invalid or "
                               "malformed: the audience must be the token endpoint "
                               f"{self.token_endpoint()}.", correlation_id)
        except jwt.InvalidIssuerError:
            return self._error(401, "invalid_client", 700021, "Client assertion application "
                               "identifier doesn't match 'client_id' parameter.",
                               correlation_id)
        except jwt.PyJWTError as exc:
            return self._error(401, "invalid_client", 50027, f"JWT token is invalid or "
                               f"malformed: {exc}.", correlation_id)
        if claims.get("sub") != self.client_id:
            return self._error(401, "invalid_client", 700021, "Client assertion application "
                               "identifier doesn't match 'client_id' parameter.",
                               correlation_id)
        return None

    # ------------------------------------------------------------------ access tokens
    def graph_audiences(self) -> set[str]:
        return {"https://graph.microsoft.com", GRAPH_APP_ID, self.base_url}

    def _mint(self, audience: str, acr: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience, "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
            "appid": self.client_id, "appidacr": acr, "idtyp": "app",
            "idp": f"https://sts.windows.net/{self.tenant_id}/",
            "oid": self.sp_object_id, "sub": self.sp_object_id, "roles": APP_ROLES,
            "tid": self.tenant_id, "uti": _b64url(uuid.uuid4().bytes), "ver": "1.0",
        }
        return jwt.encode(claims, self._key, algorithm="RS256",
                          headers={"kid": self._kid, "typ": "JWT"})

    def check_bearer(self, authorization: str | None) -> dict:
        """Claims of a valid Graph access token, or GraphError 401 as Graph words it."""
        def fail(message: str) -> GraphError:
            return GraphError(401, "InvalidAuthenticationToken", message, headers={
                "WWW-Authenticate": 'Bearer realm="", authorization_uri="'
                                    f'{self.base_url}/common/oauth2/authorize", '
                                    f'client_id="{GRAPH_APP_ID}"'})
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise fail("Access token is empty.")
        try:
            return jwt.decode(token.strip(), self._key.public_key(), algorithms=["RS256"],
                              audience=sorted(self.graph_audiences()),
                              options={"require": ["exp", "aud"]})
        except jwt.ExpiredSignatureError:
            raise fail("Lifetime validation failed, the token is expired.") from None
        except jwt.InvalidAudienceError:
            raise fail("Access token validation failure. Invalid audience.") from None
        except jwt.InvalidSignatureError:
            raise fail("Access token validation failure.") from None
        except jwt.DecodeError:
            raise fail("IDX14100: JWT is not well formed.") from None
        except jwt.PyJWTError:
            raise fail("Access token validation failure.") from None
