"""The emulated directory: users, groups, memberships, and Graph's write rules.

Every public method takes the store lock, so the HTTP threads and the test thread
see one consistent directory. Methods raise GraphError with Graph's status, code and
wording; the HTTP layer only turns it into a response.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
import threading
import time
import uuid
from typing import Any, Iterable
from urllib.parse import unquote, urlparse

from ._odata import GraphError, bad_request, invalid_value, not_found
from ._schema import (BOOL, BUILT_IN_ROLES, DIRECTORY_ROLE, EXTENSION_ATTRIBUTE_NAMES, GROUP,
                      OBJ, OBJLIST, ORG_CONTACT, PASSWORD_PROFILE_KEYS,
                      PRIVILEGED_WRITER_TEMPLATES, SENSITIVE_USER_PROPERTIES, SERVICE_PRINCIPAL,
                      STR, STRLIST, UNPRIVILEGED_ROLE_TEMPLATES, USER, EntitySchema,
                      blank_object)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cloud_sid(object_id: str) -> str:
    """The SID Entra derives from an object id: S-1-12-1 and the GUID as four uint32s."""
    raw = uuid.UUID(object_id).bytes_le
    parts = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 16, 4)]
    return "S-1-12-1-" + "-".join(str(p) for p in parts)


# user resource, userPrincipalName: "Only the following characters are allowed
# A - Z, a - z, 0 - 9, ' . - _ ! # ^ ~" in the alias; the alias is at most 64 characters.
_UPN_LOCAL = re.compile(r"^[A-Za-z0-9'.\-_!#^~]{1,64}$")
# group resource, mailNickname: "can contain only ASCII characters 0 - 127 except the
# following: @ () \ [] " ; : <> , SPACE"; maximum length 64.
_NICK_FORBIDDEN = set('@()\\[]";:<>, ')
_MAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")
_EDM = {STR: "Edm.String", BOOL: "Edm.Boolean", STRLIST: "Collection(Edm.String)",
        OBJ: "microsoft.graph complex type", OBJLIST: "Collection(complex type)"}

# Properties that stay cloud-mastered on an object synchronised from AD (Entra Connect
# never writes them); everything else on such an object is refused, as Graph refuses
# changes to "on-premises mastered Directory Sync objects".
_CLOUD_MASTERED = frozenset({"usageLocation", "preferredDataLocation"})
_DIRSYNC_MASTERED_MSG = ("Unable to update the specified properties for on-premises mastered "
                         "Directory Sync objects or objects currently undergoing migration.")
# group-post-groups / group-post-members: "you can add up to only 20 members" per request.
MAX_BIND_PER_REQUEST = 20
# user resource, onPremisesImmutableId: it "must be specified when creating a new user account
# if you're using a federated domain for the user's userPrincipalName (UPN) property".
# The wording is the one Graph answers with, as reported in
# https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/5070.
_FEDERATED_NEEDS_ANCHOR_MSG = ("SourceAnchor is a required property for creation of a "
                               "federated user.")


def _conflict(prop: str, holder: tuple[EntitySchema, dict] | None = None) -> GraphError:
    """Graph's uniqueness refusal: 400 Request_BadRequest with an ObjectConflict detail naming
    the property and a ConflictingObjects detail naming the holder as "<Type>_<id>". The shape of
    both details is the one Microsoft shows in ADSyncTools' help for
    Set-ADSyncToolsOnPremisesAttribute ("ObjectConflict" ... "target":"onPremisesImmutableId",
    "ConflictingObjects" ... "target":"User_<GUID of the other object in conflict>"); "Group_"
    and "Contact_" for the other kinds follow it (no page shows them)."""
    msg = f"Another object with the same value for property {prop} already exists."
    details = [{"code": "ObjectConflict", "message": msg, "target": prop}]
    if holder is not None:
        details.append({"code": "ConflictingObjects", "message": msg,
                        "target": f"{holder[0].resource}_{holder[1]['id']}"})
    return bad_request(msg, details=details)


# user-update / "Who can perform sensitive actions": Graph's answer to an app without a higher
# privileged role changing a privileged user's sensitive property (the standard
# Authorization_RequestDenied answer of https://learn.microsoft.com/graph/errors).
def _insufficient_privileges() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied",
                      "Insufficient privileges to complete the operation.")


_EXTENSION_NAME = re.compile(r"^extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+$")


def _required(prop: str) -> GraphError:
    return bad_request(f"Property {prop} value is required but is empty or missing.")


def password_is_complex(pw: str) -> bool:
    """Entra's password rule for cloud accounts, roughly: 8-256 characters and three of
    lower case, upper case, digits, symbols.
    https://learn.microsoft.com/entra/identity/authentication/concept-sspr-policy
    (Password policies that only apply to cloud user accounts)."""
    if not 8 <= len(pw) <= 256:
        return False
    classes = [any(c.islower() for c in pw), any(c.isupper() for c in pw),
               any(c.isdigit() for c in pw), any(not c.isalnum() for c in pw)]
    return sum(classes) >= 3


class Directory:
    def __init__(self, domains: Iterable[str], federated: Iterable[str] = (),
                 unverified: Iterable[str] = (), app_id: str | None = None) -> None:
        self.domains = [d.lower() for d in domains]          # verified, managed
        self.federated = [d.lower() for d in federated]      # verified, federated
        self.unverified = [d.lower() for d in unverified]    # added, not verified
        if not self.domains:
            raise ValueError("at least one verified domain is needed")
        every = self.domains + self.federated + self.unverified
        if len(set(every)) != len(every):
            raise ValueError("a domain is listed twice (managed, federated and unverified "
                             "domains must be distinct)")
        self.lock = threading.RLock()
        self.users: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.members: dict[str, list[str]] = {}   # group id -> member ids, in added order
        self.roles: dict[str, dict] = {}          # activated directoryRole id -> object
        self.role_members: dict[str, list[str]] = {}   # role id -> member ids
        self.managers: dict[str, str] = {}        # user id -> manager's id
        self.contacts: dict[str, dict] = {}       # orgContacts (read-only in Graph), seeded
        # Replication delay ("Designing for eventual consistency for Microsoft Entra",
        # https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/:
        # "A newly created object to return a 'Not Found'"): an object created through Graph
        # while replication_delay > 0 is invisible to reads until hidden_until[id] (monotonic).
        self.replication_delay = 0.0
        self.hidden_until: dict[str, float] = {}
        # The app's own service principal and the directory roles it holds
        # (serviceprincipal-list-memberof), for the privileged-user rule of user-update.
        self.app_id = (app_id or str(uuid.uuid4())).lower()
        self.service_principal = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{self.app_id}")), "accountEnabled": True,
            "appDisplayName": "pybridge (lab)", "appId": self.app_id, "deletedDateTime": None,
            "displayName": "pybridge (lab)", "servicePrincipalType": "Application"}
        self.app_roles: list[str] = []            # activated role ids the app holds
        # Directory extension properties registered on the app: full name -> (kind, targets).
        self.extensions: dict[str, tuple[str, frozenset[str]]] = {}

    @property
    def verified(self) -> list[str]:
        """Domains a userPrincipalName may use: the verified managed and federated ones."""
        return self.domains + self.federated

    @property
    def initial_domain(self) -> str:
        for d in self.domains:
            if d.endswith(".onmicrosoft.com"):
                return d
        return self.domains[-1]

    def clear(self) -> None:
        with self.lock:
            self.users.clear()
            self.groups.clear()
            self.members.clear()
            self.roles.clear()
            self.role_members.clear()
            self.managers.clear()
            self.contacts.clear()
            self.hidden_until.clear()
            self.app_roles.clear()
            self.extensions.clear()

    # ------------------------------------------------------------------ replication
    def visible(self, oid: str) -> bool:
        """Whether reads see *oid* yet (replication delay, see __init__)."""
        until = self.hidden_until.get(oid)
        if until is None:
            return True
        if time.monotonic() >= until:
            del self.hidden_until[oid]
            return True
        return False

    def _created(self, oid: str) -> None:
        if self.replication_delay > 0:
            self.hidden_until[oid] = time.monotonic() + self.replication_delay

    def replicate_now(self) -> None:
        """End every object's replication delay at once."""
        with self.lock:
            self.hidden_until.clear()

    # ------------------------------------------------------------------ extensions
    def register_extension(self, name: str, targets: Iterable[str] = ("User", "Group"),
                           data_type: str = "String") -> str:
        """Register a directory extension property on the app (application-post-extensionproperty)
        and return its name on the target objects, extension_{appId-without-hyphens}_{name}
        ("Add custom data to resources using extensions", Directory (Microsoft Entra ID)
        extensions). Raises ValueError for a bad name, target or type."""
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,99}", name):
            raise ValueError(f"invalid extension name {name!r}")
        wanted = {t.strip().capitalize() for t in targets}
        if not wanted or not wanted <= {"User", "Group"}:
            raise ValueError("targets must be User and/or Group")
        kinds = {"String": STR, "Boolean": BOOL}
        if data_type not in kinds:
            raise ValueError("data_type must be String or Boolean")
        full = f"extension_{self.app_id.replace('-', '')}_{name}"
        with self.lock:
            self.extensions[full] = (kinds[data_type], frozenset(wanted))
        return full

    def extension_props(self, schema: EntitySchema) -> dict[str, str]:
        """Registered extension properties the resource *schema* carries: name -> kind."""
        if not schema.extensible:
            return {}
        with self.lock:
            return {n: k for n, (k, targets) in self.extensions.items()
                    if schema.resource in targets}

    # ------------------------------------------------------------------ lookups
    def find_user(self, key: str, *, visible_only: bool = False) -> dict | None:
        with self.lock:
            obj = self.users.get(key.lower()) or self.users.get(key)
            if obj is None:
                low = key.casefold()
                obj = next((u for u in self.users.values()
                            if (u.get("userPrincipalName") or "").casefold() == low), None)
            if obj is not None and visible_only and not self.visible(obj["id"]):
                return None
            return obj

    def user(self, key: str) -> dict:
        """A user as Graph's reads see it: 404 while it is not replicated yet."""
        obj = self.find_user(key, visible_only=True)
        if obj is None:
            raise not_found(key)
        return obj

    def group(self, key: str) -> dict:
        with self.lock:
            obj = self.groups.get(key.lower())
            if obj is None or not self.visible(obj["id"]):
                raise not_found(key)
            return obj

    def contact(self, key: str) -> dict:
        with self.lock:
            obj = self.contacts.get(key.lower())
            if obj is None:
                raise not_found(key)
            return obj

    def any_object(self, key: str, *, visible_only: bool = True,
                   contacts: bool = False) -> tuple[EntitySchema, dict] | None:
        with self.lock:
            low = key.lower()
            found: tuple[EntitySchema, dict] | None = None
            if low in self.users:
                found = USER, self.users[low]
            elif low in self.groups:
                found = GROUP, self.groups[low]
            elif contacts and low in self.contacts:
                found = ORG_CONTACT, self.contacts[low]
            if found is not None and visible_only and not self.visible(found[1]["id"]):
                return None
            return found

    def collection(self, schema: EntitySchema) -> list[dict]:
        """A collection as Graph's lists show it (objects not replicated yet left out)."""
        with self.lock:
            table = {USER.name: self.users, GROUP.name: self.groups,
                     DIRECTORY_ROLE.name: self.roles, ORG_CONTACT.name: self.contacts}[schema.name]
            return [o for o in table.values() if self.visible(o["id"])]

    def member_objects(self, group_id: str) -> list[tuple[EntitySchema, dict]]:
        with self.lock:
            self.group(group_id)
            out = []
            for mid in self.members.get(group_id.lower(), []):
                found = self.any_object(mid)
                if found:
                    out.append(found)
            return out

    def groups_of(self, member_id: str) -> list[dict]:
        with self.lock:
            return [self.groups[g] for g, ms in self.members.items()
                    if member_id in ms and self.visible(g)]

    def member_of(self, member_id: str) -> list[tuple[EntitySchema, dict]]:
        """Groups and directory roles *member_id* is a direct member of (user-list-memberof)."""
        with self.lock:
            out: list[tuple[EntitySchema, dict]] = [(GROUP, g) for g in self.groups_of(member_id)]
            out += [(DIRECTORY_ROLE, self.roles[r]) for r, ms in self.role_members.items()
                    if member_id in ms]
            return out

    def transitive_member_of(self, member_id: str) -> list[tuple[EntitySchema, dict]]:
        """Groups and directory roles *member_id* belongs to directly or through nested
        groups (user-list-transitivememberof), each once, nearest first."""
        with self.lock:
            seen: set[str] = set()
            out: list[tuple[EntitySchema, dict]] = []
            frontier = [member_id]
            while frontier:
                nxt = []
                for oid in frontier:
                    for schema, obj in self.member_of(oid):
                        if obj["id"] in seen:
                            continue
                        seen.add(obj["id"])
                        out.append((schema, obj))
                        if schema is GROUP:
                            nxt.append(obj["id"])
                frontier = nxt
            # Groups first, then roles, as member_of lists them.
            return ([so for so in out if so[0] is GROUP]
                    + [so for so in out if so[0] is DIRECTORY_ROLE])

    # ------------------------------------------------------------------ directory roles
    def role(self, key: str) -> dict:
        with self.lock:
            obj = self.roles.get(key.lower())
            if obj is None:
                raise not_found(key)
            return obj

    def role_by_template(self, template_id: str) -> dict:
        with self.lock:
            for r in self.roles.values():
                if r["roleTemplateId"].lower() == template_id.lower():
                    return r
            raise not_found(template_id)

    def role_member_objects(self, role_id: str) -> list[tuple[EntitySchema, dict]]:
        with self.lock:
            role = self.role(role_id)
            out = []
            for mid in self.role_members.get(role["id"], []):
                found = self.any_object(mid)
                if found:
                    out.append(found)
            return out

    def assign_role(self, member_id: str, role_name: str) -> dict:
        """Make *member_id* (a user) a member of the built-in role *role_name*, activating
        the role first if needed (directoryrole-post-directoryroles: a role is activated
        from its template; the activated role has an id of its own). Idempotent.
        Raises ValueError for an unknown user."""
        with self.lock:
            user = self.find_user(member_id)
            if user is None:
                raise ValueError(f"user {member_id} does not exist")
            role = self._activate_role(role_name)
            members = self.role_members.setdefault(role["id"], [])
            if user["id"] not in members:
                members.append(user["id"])
            return role

    def assign_app_role(self, role_name: str) -> dict:
        """Make the app's own service principal a member of the built-in role *role_name*
        (activating it if needed); serviceprincipal-list-memberof then lists it. Idempotent."""
        with self.lock:
            role = self._activate_role(role_name)
            if role["id"] not in self.app_roles:
                self.app_roles.append(role["id"])
            return role

    def app_member_of(self) -> list[tuple[EntitySchema, dict]]:
        with self.lock:
            return [(DIRECTORY_ROLE, self.roles[r]) for r in self.app_roles if r in self.roles]

    def _activate_role(self, role_name: str) -> dict:
        with self.lock:
            if not isinstance(role_name, str):
                raise ValueError("role_name must be a string")
            wanted = role_name.strip()
            if not wanted:
                raise ValueError("role_name must not be empty")
            role = next((r for r in self.roles.values()
                         if r["displayName"].casefold() == wanted.casefold()), None)
            if role is None:
                known = {n.casefold(): (n, t, d) for n, (t, d) in BUILT_IN_ROLES.items()}
                name, template, description = known.get(
                    wanted.casefold(), (wanted, str(uuid.uuid4()), None))
                oid = str(uuid.uuid4())
                role = {"id": oid, "deletedDateTime": None, "description": description,
                        "displayName": name, "roleTemplateId": template}
                self.roles[oid] = role
                self.role_members[oid] = []
            return role

    # ------------------------------------------------------------------ privileged users
    def is_privileged(self, user_id: str) -> bool:
        """The user holds a directory role other than the four user-update names as harmless."""
        with self.lock:
            return any(user_id in self.role_members.get(rid, [])
                       and r["roleTemplateId"] not in UNPRIVILEGED_ROLE_TEMPLATES
                       for rid, r in self.roles.items())

    def app_may_touch_privileged(self) -> bool:
        with self.lock:
            return any(self.roles[r]["roleTemplateId"] in PRIVILEGED_WRITER_TEMPLATES
                       for r in self.app_roles if r in self.roles)

    def _check_privileged(self, user: dict, props: Iterable[str]) -> None:
        """user-update: an app changing accountEnabled, mobilePhone, otherMails... of a user with a
        privileged administrator role needs a higher privileged role itself (Global
        Administrator or Privileged Authentication Administrator), else 403."""
        if set(props) & SENSITIVE_USER_PROPERTIES and self.is_privileged(user["id"]) \
                and not self.app_may_touch_privileged():
            raise _insufficient_privileges()

    # ------------------------------------------------------------------ validation
    def _check_body(self, schema: EntitySchema, body: Any, *, creating: bool,
                    target: dict | None = None) -> tuple[dict, list[str]]:
        """Split a POST/PATCH body into declared property values and bind URLs."""
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        values: dict = {}
        binds: list[str] = []
        for key, value in body.items():
            if key == "@odata.type":
                if str(value).lstrip("#") != f"microsoft.graph.{schema.name}":
                    raise GraphError(400, "BadRequest", f"A type named '{value}' could not be "
                                                        "resolved by the model.")
                continue
            if schema is GROUP and key in ("members@odata.bind", "owners@odata.bind"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise GraphError(400, "BadRequest",
                                     f"Invalid URL format specified in @odata.bind for "
                                     f"{key.split('@')[0]}")
                if key == "members@odata.bind":
                    binds.extend(value)
                else:
                    # Owners are checked for existence but not modelled further.
                    for url in value:
                        self._resolve_bind(url, "owners")
                continue
            if key not in schema.props and _EXTENSION_NAME.match(key):
                # A directory extension property: accepted in POST/PATCH when registered for
                # this resource ("Add custom data to resources using extensions"), its value a
                # primitive of its type, null deleting it; unknown ones are unknown properties.
                kind = self.extension_props(schema).get(key)
                if kind is None:
                    raise bad_request(f"Property '{key}' does not exist as a declared property "
                                      "or extension property.")
                if value is not None and not ((kind == STR and isinstance(value, str)
                                               and len(value) <= 256)
                                              or (kind == BOOL and isinstance(value, bool))):
                    raise GraphError(400, "BadRequest", "Cannot convert a primitive value to "
                                     f"the expected type '{_EDM[kind]}'. See the inner "
                                     "exception for more details.")
                values[key] = value
                continue
            if key not in schema.props:
                raise bad_request(f"Property '{key}' does not exist as a declared property or "
                                  "extension property.")
            if key not in schema.writable or (key in schema.create_only and not creating):
                raise bad_request(f"Property '{key}' is read-only and cannot be set.")
            self._check_kind(schema, key, value)
            values[key] = value
        if target is not None and target.get("onPremisesSyncEnabled"):
            if any(k not in _CLOUD_MASTERED for k in values) or binds:
                raise bad_request(_DIRSYNC_MASTERED_MSG)
        return values, binds

    @staticmethod
    def _check_kind(schema: EntitySchema, key: str, value: Any) -> None:
        kind = schema.props[key]
        ok = (value is None
              or (kind == STR and isinstance(value, str))
              or (kind == BOOL and isinstance(value, bool))
              or (kind == STRLIST and isinstance(value, list)
                  and all(isinstance(v, str) for v in value))
              or (kind == OBJ and isinstance(value, dict))
              or (kind == OBJLIST and isinstance(value, list)
                  and all(isinstance(v, dict) for v in value)))
        if not ok:
            raise GraphError(400, "BadRequest", "Cannot convert a primitive value to the "
                                                f"expected type '{_EDM[kind]}'. See the inner "
                                                "exception for more details.")
        if value is None and kind in (STRLIST, OBJLIST, BOOL) and key in schema.required:
            raise _required(key)

    def _check_upn(self, upn: str) -> None:
        local, sep, domain = upn.rpartition("@")
        if (not sep or not _UPN_LOCAL.match(local) or local.startswith(".")
                or local.endswith(".") or ".." in local):
            raise invalid_value("userPrincipalName", USER)
        # An unverified domain is refused like an unknown one (user-post-users: the UPN
        # domain must be one of the tenant's verified domains).
        if domain.lower() not in self.verified:
            raise bad_request("The domain portion of the userPrincipalName property is invalid. "
                              "You must use one of the verified domain names in your "
                              "organization.")

    def _check_federated_upn(self, values: dict, *, creating: bool,
                             current: dict | None) -> None:
        new_domain = values["userPrincipalName"].rpartition("@")[2].lower()
        if new_domain not in self.federated:
            return
        if creating and not values.get("onPremisesImmutableId"):
            raise bad_request(_FEDERATED_NEEDS_ANCHOR_MSG)
        old_upn = (current or {}).get("userPrincipalName") or ""
        old_domain = old_upn.rpartition("@")[2].lower()
        if current is not None and old_domain in self.federated and old_domain != new_domain:
            # Entra does not move a user straight from one federated domain to another
            # (Entra Connect reports it as FederatedDomainChangeError:
            # https://learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors
            # #federateddomainchangeerror); the usual way round is a managed domain in
            # between. The wording is the emulator's.
            raise bad_request(
                f"The userPrincipalName cannot be changed from federated domain "
                f"'{old_domain}' to another federated domain '{new_domain}' "
                "(FederatedDomainChangeError). Change it to a managed domain first.")

    @staticmethod
    def _check_nickname(nick: str, schema: EntitySchema) -> None:
        if (not nick or len(nick) > 64 or any(c in _NICK_FORBIDDEN for c in nick)
                or any(ord(c) > 127 for c in nick)):
            raise invalid_value("mailNickname", schema)

    def _check_user_values(self, values: dict, *, creating: bool, current: dict | None) -> None:
        if creating:
            for prop in USER.required:
                if prop == "passwordProfile":
                    continue
                v = values.get(prop)
                if v is None or (isinstance(v, str) and not v.strip()):
                    raise _required(prop)
            pp = values.get("passwordProfile")
            if not isinstance(pp, dict) or not pp.get("password"):
                raise bad_request("A password must be specified to create a new user.")
        if "displayName" in values:
            dn = values["displayName"]
            if not dn or not dn.strip() or len(dn) > 256:
                raise invalid_value("displayName", USER)
        if "mailNickname" in values:
            self._check_nickname(values["mailNickname"] or "", USER)
        if "userPrincipalName" in values:
            if not values["userPrincipalName"]:
                raise invalid_value("userPrincipalName", USER)
            self._check_upn(values["userPrincipalName"])
            self._check_federated_upn(values, creating=creating, current=current)
        if values.get("mail") is not None and not _MAIL.match(values["mail"]):
            raise invalid_value("mail", USER)
        for addr in values.get("otherMails") or []:
            if not _MAIL.match(addr):
                raise invalid_value("otherMails", USER)
        if "onPremisesImmutableId" in values and values["onPremisesImmutableId"] is not None:
            imm = values["onPremisesImmutableId"]
            # user resource, onPremisesImmutableId: "The $ and _ characters can't be used
            # when specifying this property."
            if not imm or "$" in imm or "_" in imm:
                raise invalid_value("onPremisesImmutableId", USER)
        if creating and "usageLocation" in values and values["usageLocation"] is None:
            raise invalid_value("usageLocation", USER)   # "Not nullable" (user resource)
        if values.get("usageLocation") is not None and not re.fullmatch(
                r"[A-Za-z]{2}", values["usageLocation"]):
            raise invalid_value("usageLocation", USER)
        # user resource, businessPhones: "Only one number can be set for this property."
        if len(values.get("businessPhones") or []) > 1:
            raise invalid_value("businessPhones", USER)
        if values.get("passwordPolicies") is not None:
            parts = [p.strip() for p in values["passwordPolicies"].split(",") if p.strip()]
            if not set(parts) <= {"DisablePasswordExpiration", "DisableStrongPassword", "None"}:
                raise invalid_value("passwordPolicies", USER)
        if "onPremisesExtensionAttributes" in values:
            ext = values["onPremisesExtensionAttributes"]
            if current is not None and current.get("onPremisesSyncEnabled"):
                # user resource: "For an onPremisesSyncEnabled user, the source of authority
                # for this set of properties is the on-premises and is read-only."
                raise bad_request(_DIRSYNC_MASTERED_MSG)
            for k, v in (ext or {}).items():
                if k not in EXTENSION_ATTRIBUTE_NAMES:
                    raise bad_request(f"Property '{k}' does not exist as a declared property "
                                      "or extension property.")
                if v is not None and (not isinstance(v, str) or len(v) > 1024):
                    raise invalid_value("onPremisesExtensionAttributes", USER)
        if "passwordProfile" in values:
            pp = values["passwordProfile"]
            if pp is None:
                raise invalid_value("passwordProfile", USER)
            for k in pp:
                if k not in PASSWORD_PROFILE_KEYS:
                    raise bad_request(f"Property '{k}' does not exist as a declared property "
                                      "or extension property.")
            pw = pp.get("password")
            policies = values.get("passwordPolicies")
            if policies is None and current is not None:
                policies = current.get("passwordPolicies")
            if pw is not None:
                if not isinstance(pw, str):
                    raise invalid_value("passwordProfile", USER)
                strong = "DisableStrongPassword" not in (policies or "")
                if (strong and not password_is_complex(pw)) or not pw:
                    raise bad_request("The specified password does not comply with password "
                                      "complexity requirements. Please provide a different "
                                      "password.")

    def _check_unique_user(self, values: dict, self_id: str | None) -> None:
        others = [u for u in self.users.values() if u["id"] != self_id]
        upn = values.get("userPrincipalName")
        if upn:
            holder = next((u for u in others
                           if (u.get("userPrincipalName") or "").casefold() == upn.casefold()), None)
            if holder is not None:
                raise _conflict("userPrincipalName", (USER, holder))
        imm = values.get("onPremisesImmutableId")
        if imm:
            holder = next((u for u in others
                           if (u.get("onPremisesImmutableId") or "").casefold() == imm.casefold()),
                          None)
            if holder is not None:
                raise _conflict("onPremisesImmutableId", (USER, holder))
        self._check_unique_addresses(values, self_id)

    def _check_unique_addresses(self, values: dict, self_id: str | None) -> None:
        """proxyAddresses "are unique across directory objects (users, groups, and organizational
        contacts). If a user's mail property conflicts with one of the proxyAddresses of another
        object, an attempt to update the mail fails" (user resource, "mail and proxyAddresses
        properties"). mail itself is no key: a mail another object holds only as its mail is
        accepted (see _apply_mail)."""
        mail = values.get("mail")
        if mail:
            holder = self.proxy_holder(mail, exclude=self_id)
            if holder is not None:
                raise _conflict("proxyAddresses", holder)
        for addr in values.get("proxyAddresses") or []:
            scheme, _, bare = addr.partition(":")
            if scheme.lower() != "smtp" or not bare:
                continue
            holder = self.proxy_holder(bare, exclude=self_id)
            if holder is not None:
                raise _conflict("proxyAddresses", holder)

    def proxy_holder(self, address: str, exclude: str | None = None
                     ) -> tuple[EntitySchema, dict] | None:
        """The user, group or contact (other than *exclude*) holding *address* as an SMTP proxy
        address, whether reads see it yet or not (uniqueness is the writer's business)."""
        want = address.casefold()
        for schema, table in ((USER, self.users), (GROUP, self.groups),
                              (ORG_CONTACT, self.contacts)):
            for obj in table.values():
                if obj["id"] == exclude:
                    continue
                for addr in obj.get("proxyAddresses") or []:
                    scheme, _, bare = addr.partition(":")
                    if scheme.lower() == "smtp" and bare.casefold() == want:
                        return schema, obj
        return None

    def mail_holder(self, address: str, exclude: str | None = None) -> dict | None:
        want = address.casefold()
        for table in (self.users, self.groups, self.contacts):
            for obj in table.values():
                if obj["id"] != exclude and (obj.get("mail") or "").casefold() == want:
                    return obj
        return None

    def _apply_mail(self, obj: dict, old_mail: str | None) -> None:
        """user resource, "mail and proxyAddresses properties": "When a user's mail property is
        updated, it triggers recalculation of proxyAddresses and the newly updated mail is set to
        be the primary proxy address". The former primary stays as a secondary (smtp:) address.
        A mail that another object already holds as its mail is kept on the user but not added
        to proxyAddresses (the pages say mail conflicting with a proxy address fails and say
        nothing of a mail-only duplicate: this is the emulator's reading, see
        docs/graph-emulator.md)."""
        if obj.get("onPremisesSyncEnabled"):
            return   # a synced user's proxyAddresses come from on-premises
        new = obj.get("mail")
        proxies = [p for p in obj.get("proxyAddresses") or []]
        if old_mail and (not new or new.casefold() != old_mail.casefold()):
            proxies = [("smtp:" + p[5:]) if p.startswith("SMTP:") else p for p in proxies]
        if new:
            proxies = [p for p in proxies if p.partition(":")[2].casefold() != new.casefold()]
            if self.mail_holder(new, exclude=obj["id"]) is None:
                proxies = [("smtp:" + p[5:]) if p.startswith("SMTP:") else p for p in proxies]
                proxies.insert(0, f"SMTP:{new}")
        obj["proxyAddresses"] = proxies

    # ------------------------------------------------------------------ users
    def create_user(self, body: Any) -> dict:
        with self.lock:
            values, _ = self._check_body(USER, body, creating=True)
            self._check_user_values(values, creating=True, current=None)
            self._check_unique_user(values, None)
            obj = self._store_user(values)
            if values.get("mail"):
                self._apply_mail(obj, None)
            self._created(obj["id"])
            return obj

    def _store_user(self, values: dict, object_id: str | None = None) -> dict:
        obj = blank_object(USER)
        oid = (object_id or str(uuid.uuid4())).lower()
        ts = now_iso()
        obj.update({"id": oid, "createdDateTime": ts, "securityIdentifier": cloud_sid(oid),
                    "userType": "Member", "lastPasswordChangeDateTime": ts,
                    "signInSessionsValidFromDateTime": ts})
        self._apply_user(obj, values)
        self.users[oid] = obj
        return obj

    @staticmethod
    def _apply_user(obj: dict, values: dict) -> None:
        for k, v in values.items():
            if k == "passwordProfile":
                # The password is write-only: keep only the flags.
                obj[k] = {kk: vv for kk, vv in v.items() if kk != "password"}
            elif k == "onPremisesExtensionAttributes":
                merged = dict(obj.get(k) or {n: None for n in EXTENSION_ATTRIBUTE_NAMES})
                merged.update(v or {n: None for n in EXTENSION_ATTRIBUTE_NAMES})
                obj[k] = merged
            else:
                obj[k] = copy.deepcopy(v)

    def update_user(self, key: str, body: Any) -> None:
        with self.lock:
            obj = self.user(key)
            values, _ = self._check_body(USER, body, creating=False, target=obj)
            self._check_privileged(obj, values)
            # user resource: displayName "can't be cleared during updates"; usageLocation, and
            # the properties required at creation, are "Not nullable". The wording is Graph's
            # usual one for an invalid value.
            for prop in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName",
                         "usageLocation"):
                if prop in values and values[prop] is None:
                    raise invalid_value(prop, USER)
            self._check_user_values(values, creating=False, current=obj)
            self._check_unique_user(values, obj["id"])
            old_mail = obj.get("mail")
            self._apply_user(obj, values)
            if "mail" in values:
                self._apply_mail(obj, old_mail)

    def delete_user(self, key: str) -> None:
        with self.lock:
            obj = self.user(key)
            # user-delete: "In app-only scenarios, the User.ReadWrite.All application permission
            # isn't enough privilege to delete users with privileged administrative roles."
            if self.is_privileged(obj["id"]) and not self.app_may_touch_privileged():
                raise _insufficient_privileges()
            del self.users[obj["id"]]
            self.hidden_until.pop(obj["id"], None)
            self._forget_member(obj["id"])

    def _forget_member(self, oid: str) -> None:
        for ms in list(self.members.values()) + list(self.role_members.values()):
            while oid in ms:
                ms.remove(oid)
        self.managers.pop(oid, None)
        for uid in [u for u, m in self.managers.items() if m == oid]:
            del self.managers[uid]

    # ------------------------------------------------------------------ manager
    # user-list-manager: GET /users/{id}/manager, 404 when none; user-post-manager: PUT
    # /users/{id}/manager/$ref {"@odata.id": ".../users/{id}"} (a user or an orgContact);
    # user-delete-manager: DELETE /users/{id}/manager/$ref.
    def manager_of(self, key: str) -> dict:
        with self.lock:
            obj = self.user(key)
            mid = self.managers.get(obj["id"])
            if mid is None or mid not in self.users or not self.visible(mid):
                raise not_found("manager")
            return self.users[mid]

    def set_manager(self, key: str, body: Any) -> None:
        with self.lock:
            obj = self.user(key)
            if not isinstance(body, dict) or not isinstance(body.get("@odata.id"), str):
                raise GraphError(400, "BadRequest", "Invalid request body: an '@odata.id' reference is required.")
            url = body["@odata.id"]
            path = urlparse(url).path if "://" in url else url
            ref = unquote(path.rstrip("/").rsplit("/", 1)[-1])
            if self.any_object(ref) is None and self.find_user(ref, visible_only=True) is None:
                # user-post-manager names a user (or contact) that reads do not see (yet): 404,
                # as for any reference to an object that does not exist.
                raise not_found(ref)
            mid = self._resolve_bind(url)
            if mid not in self.users:
                raise bad_request("The manager must be a user.")
            if mid == obj["id"]:
                raise bad_request("A user cannot be their own manager.")
            self.managers[obj["id"]] = mid

    def remove_manager(self, key: str) -> None:
        with self.lock:
            obj = self.user(key)
            if obj["id"] not in self.managers:
                raise not_found("manager")
            del self.managers[obj["id"]]

    # ------------------------------------------------------------------ groups
    def _check_group_values(self, values: dict, *, creating: bool,
                            current: dict | None) -> None:
        if creating:
            for prop in GROUP.required:
                v = values.get(prop)
                if v is None or (isinstance(v, str) and not v.strip()):
                    raise _required(prop)
        if "displayName" in values:
            dn = values["displayName"]
            if not dn or not dn.strip() or len(dn) > 256:
                raise invalid_value("displayName", GROUP)
        if "mailNickname" in values:
            self._check_nickname(values["mailNickname"] or "", GROUP)
        group_types = values.get("groupTypes",
                                 (current or {}).get("groupTypes") or [])
        if not set(group_types or []) <= {"Unified", "DynamicMembership"}:
            raise invalid_value("groupTypes", GROUP)
        mail_enabled = values.get("mailEnabled", (current or {}).get("mailEnabled"))
        # https://learn.microsoft.com/graph/api/resources/groups-overview ("Group types in
        # Microsoft Entra ID and Microsoft Graph"): mail-enabled security groups and
        # distribution groups cannot be created or managed through Graph; only Microsoft 365
        # (Unified) groups are mail-enabled. Graph's refusal is worded as below.
        if mail_enabled and "Unified" not in (group_types or []):
            raise bad_request("Cannot Create a mail-enabled security groups and or "
                              "distribution list.")
        if values.get("visibility") is not None and values["visibility"] not in (
                "Public", "Private", "HiddenMembership"):
            raise invalid_value("visibility", GROUP)

    def create_group(self, body: Any) -> dict:
        with self.lock:
            values, binds = self._check_body(GROUP, body, creating=True)
            self._check_group_values(values, creating=True, current=None)
            member_ids = self._resolve_binds(binds, existing=[])
            obj = self._store_group(values)
            self.members[obj["id"]] = member_ids
            self._created(obj["id"])
            return obj

    def _store_group(self, values: dict, object_id: str | None = None) -> dict:
        obj = blank_object(GROUP)
        oid = (object_id or str(uuid.uuid4())).lower()
        obj.update({"id": oid, "createdDateTime": now_iso(),
                    "securityIdentifier": cloud_sid(oid), "renewedDateTime": now_iso()})
        obj.update(copy.deepcopy(values))
        if "Unified" in (obj.get("groupTypes") or []) and obj.get("mailEnabled") and \
                not obj.get("mail"):
            obj["mail"] = f"{obj['mailNickname']}@{self.initial_domain}"
            obj["proxyAddresses"] = [f"SMTP:{obj['mail']}"]
            obj["visibility"] = obj.get("visibility") or "Public"
        self.groups[oid] = obj
        self.members.setdefault(oid, [])
        return obj

    def update_group(self, key: str, body: Any) -> None:
        with self.lock:
            obj = self.group(key)
            values, binds = self._check_body(GROUP, body, creating=False, target=obj)
            for prop in ("displayName", "mailNickname", "mailEnabled", "securityEnabled"):
                if prop in values and values[prop] is None:
                    raise invalid_value(prop, GROUP)
            self._check_group_values(values, creating=False, current=obj)
            current = self.members.setdefault(obj["id"], [])
            added = self._resolve_binds(binds, existing=current)
            obj.update(copy.deepcopy(values))
            current.extend(added)

    def delete_group(self, key: str) -> None:
        with self.lock:
            obj = self.group(key)
            del self.groups[obj["id"]]
            self.hidden_until.pop(obj["id"], None)
            self.members.pop(obj["id"], None)
            self._forget_member(obj["id"])

    # ------------------------------------------------------------------ membership
    def _resolve_bind(self, url: str, what: str = "members") -> str:
        """Object id named by an @odata.id / @odata.bind URL (.../directoryObjects/{id},
        .../users/{id} or .../groups/{id}); the host is not checked."""
        path = urlparse(url).path if "://" in url else url
        segs = [unquote(s) for s in path.split("/") if s]
        if len(segs) < 2 or segs[-2] not in ("directoryObjects", "users", "groups"):
            raise GraphError(400, "BadRequest",
                             f"Invalid URL format specified in @odata.bind for {what}")
        coll, key = segs[-2], segs[-1]
        found = self.any_object(key)   # an object not replicated yet "does not exist" here
        if coll == "users" and found is None:
            user = self.find_user(key, visible_only=True)
            found = (USER, user) if user else None
        if found is None or (coll == "users" and found[0] is not USER) or \
                (coll == "groups" and found[0] is not GROUP):
            # group-post-members: "The source resource object or one of the objects being
            # referenced do not exist." (400 Bad Request)
            raise bad_request("The source resource object or one of the objects being "
                              "referenced do not exist.")
        return found[1]["id"]

    def _resolve_binds(self, urls: list[str], existing: list[str]) -> list[str]:
        if len(urls) > MAX_BIND_PER_REQUEST:
            # The limit is documented (group-post-groups, group-post-members); the wording
            # is the emulator's.
            raise bad_request(f"A maximum of {MAX_BIND_PER_REQUEST} members can be added in "
                              f"one request; this one adds {len(urls)}.")
        ids: list[str] = []
        present = set(existing)  # large groups: a list scan per bind would be quadratic
        for url in urls:
            oid = self._resolve_bind(url)
            if oid in present or oid in ids:
                raise _already_member()
            ids.append(oid)
        return ids

    def add_member_ref(self, group_key: str, body: Any) -> None:
        with self.lock:
            grp = self.group(group_key)
            if not isinstance(body, dict) or not isinstance(body.get("@odata.id"), str):
                raise GraphError(400, "BadRequest", "Invalid request body: an '@odata.id' "
                                                    "reference is required.")
            if grp.get("onPremisesSyncEnabled"):
                raise bad_request(_DIRSYNC_MASTERED_MSG)
            url = body["@odata.id"]
            path = urlparse(url).path if "://" in url else url
            key = unquote(path.rstrip("/").rsplit("/", 1)[-1])
            if self.any_object(key) is None and self.find_user(key, visible_only=True) is None:
                raise not_found(key)
            oid = self._resolve_bind(url)
            current = self.members.setdefault(grp["id"], [])
            if oid in current:
                raise _already_member()
            current.append(oid)

    def remove_member(self, group_key: str, member_id: str) -> None:
        with self.lock:
            grp = self.group(group_key)
            current = self.members.setdefault(grp["id"], [])
            if member_id.lower() not in current:
                raise not_found(member_id)
            if grp.get("onPremisesSyncEnabled"):
                raise bad_request(_DIRSYNC_MASTERED_MSG)
            current.remove(member_id.lower())

    # ------------------------------------------------------------------ seeding
    def seed(self, schema: EntitySchema, props: dict) -> dict:
        """Create an object directly, as if it already existed in the tenant (read-only
        properties such as onPremisesSyncEnabled may be given). Raises ValueError."""
        props = dict(props)
        with self.lock:
            members = props.pop("members", None) if schema is GROUP else None
            oid = props.pop("id", None)
            if oid is not None and (not isinstance(oid, str) or not _GUID.match(oid)):
                raise ValueError(f"id must be a GUID string, not {oid!r}")
            if oid is not None and self.any_object(oid, visible_only=False, contacts=True):
                raise ValueError(f"an object with id {oid} exists already")
            extensions = self.extension_props(schema)
            for key, value in props.items():
                if key in extensions:
                    continue
                if key not in schema.props:
                    raise ValueError(f"{key!r} is not a declared {schema.name} property")
                try:
                    self._check_kind(schema, key, value)
                except GraphError as exc:
                    raise ValueError(f"{key}: {exc.message}") from None
            if schema is USER:
                n = len(self.users) + 1
                props.setdefault("userPrincipalName", f"seeded{n}@{self.domains[0]}")
                props.setdefault("displayName", props["userPrincipalName"].split("@")[0])
                props.setdefault("mailNickname", props["userPrincipalName"].split("@")[0])
                props.setdefault("accountEnabled", True)
                try:
                    self._check_unique_user(props, None)
                except GraphError as exc:
                    raise ValueError(exc.message) from None
                return self._store_user(props, oid)
            try:
                self._check_unique_addresses({"proxyAddresses": props.get("proxyAddresses")}, None)
            except GraphError as exc:
                raise ValueError(exc.message) from None
            if schema is ORG_CONTACT:
                n = len(self.contacts) + 1
                props.setdefault("displayName", f"Seeded contact {n}")
                obj = blank_object(ORG_CONTACT)
                obj.update(copy.deepcopy(props))
                obj["id"] = (oid or str(uuid.uuid4())).lower()
                self.contacts[obj["id"]] = obj
                return obj
            n = len(self.groups) + 1
            props.setdefault("displayName", f"Seeded group {n}")
            props.setdefault("mailNickname", f"seededgroup{n}")
            props.setdefault("mailEnabled", False)
            props.setdefault("securityEnabled", True)
            member_ids = []
            for mid in members or []:
                found = self.any_object(mid, visible_only=False)
                if found is None:
                    raise ValueError(f"member {mid} does not exist")
                member_ids.append(found[1]["id"])
            obj = self._store_group(props, oid)
            self.members[obj["id"]] = member_ids
            return obj


def _already_member() -> GraphError:
    return bad_request("One or more added object references already exist for the following "
                       "modified properties: 'members'.")


def project(obj: dict, schema: EntitySchema, select: list[str] | None,
            extra: Iterable[str] = ()) -> dict:
    """The representation Graph returns: the default property set, or $select'ed ones.
    Directory extension properties (*extra*, registered for this resource) appear only on
    $select in v1.0 ("Add custom data to resources using extensions": "returned ... only on
    $select through the v1.0 endpoint")."""
    extra = set(extra)
    names: Iterable[str]
    if select is not None:
        names = select
    elif schema.default_select is not None:
        names = schema.default_select
    else:
        names = schema.props
    out: dict = {}
    for name in names:
        if name in extra and select is not None:
            out[name] = copy.deepcopy(obj.get(name))
            continue
        if name not in schema.props:
            continue   # e.g. a group property $select'ed in a mixed members collection
        # passwordProfile is write-only: Graph returns null for it.
        out[name] = None if name == "passwordProfile" else copy.deepcopy(obj.get(name))
    return out
