"""Property tables of the directory resources the emulator serves.

Sources (Microsoft Graph v1.0 reference):
  user:  https://learn.microsoft.com/graph/api/resources/user?view=graph-rest-1.0
  group: https://learn.microsoft.com/graph/api/resources/group?view=graph-rest-1.0
  directoryRole: https://learn.microsoft.com/graph/api/resources/directoryrole?view=graph-rest-1.0
Only the properties a sync engine can meet are declared; anything else is
"not a declared property" for the emulator, exactly as an unknown name is for Graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Value kinds, used to type-check request bodies and $filter operands.
STR, BOOL, STRLIST, OBJ, OBJLIST = "str", "bool", "strlist", "obj", "objlist"

EXTENSION_ATTRIBUTE_NAMES = tuple(f"extensionAttribute{i}" for i in range(1, 16))
PASSWORD_PROFILE_KEYS = ("password", "forceChangePasswordNextSignIn",
                         "forceChangePasswordNextSignInWithMfa")


@dataclass(frozen=True)
class EntitySchema:
    name: str                     # "user" / "group": microsoft.graph.<name>
    resource: str                 # "User" / "Group", as Graph names it in error messages
    collection: str               # "users" / "groups"
    props: dict[str, str]         # declared (readable) property -> kind
    writable: frozenset[str]      # settable with POST/PATCH
    create_only: frozenset[str]   # settable on POST, refused on PATCH
    required: tuple[str, ...]     # required on POST
    default_select: tuple[str, ...] | None  # returned without $select; None = all
    filter_eq: frozenset[str]     # supports `eq` (and startswith for strings)
    filter_any: frozenset[str]    # string collections supporting any(x:x eq '...')
    orderby: frozenset[str] = field(default_factory=frozenset)

    def canonical(self, name: str) -> str | None:
        """Graph treats property names in query options case-insensitively."""
        if name in self.props:
            return name
        low = name.lower()
        for p in self.props:
            if p.lower() == low:
                return p
        return None


_USER_PROPS: dict[str, str] = {
    "id": STR, "accountEnabled": BOOL, "ageGroup": STR, "businessPhones": STRLIST,
    "city": STR, "companyName": STR, "consentProvidedForMinor": STR, "country": STR,
    "createdDateTime": STR, "creationType": STR, "deletedDateTime": STR, "department": STR,
    "displayName": STR, "employeeHireDate": STR, "employeeId": STR,
    "employeeLeaveDateTime": STR, "employeeOrgData": OBJ, "employeeType": STR,
    "externalUserState": STR, "externalUserStateChangeDateTime": STR, "faxNumber": STR,
    "givenName": STR, "identities": OBJLIST, "imAddresses": STRLIST, "isResourceAccount": BOOL,
    "jobTitle": STR, "lastPasswordChangeDateTime": STR, "legalAgeGroupClassification": STR,
    "mail": STR, "mailNickname": STR, "mobilePhone": STR, "officeLocation": STR,
    "onPremisesDistinguishedName": STR, "onPremisesDomainName": STR,
    "onPremisesExtensionAttributes": OBJ, "onPremisesImmutableId": STR,
    "onPremisesLastSyncDateTime": STR, "onPremisesProvisioningErrors": OBJLIST,
    "onPremisesSamAccountName": STR, "onPremisesSecurityIdentifier": STR,
    "onPremisesSyncEnabled": BOOL, "onPremisesUserPrincipalName": STR, "otherMails": STRLIST,
    "passwordPolicies": STR, "passwordProfile": OBJ, "postalCode": STR,
    "preferredDataLocation": STR, "preferredLanguage": STR, "proxyAddresses": STRLIST,
    "securityIdentifier": STR, "showInAddressList": BOOL,
    "signInSessionsValidFromDateTime": STR, "state": STR, "streetAddress": STR, "surname": STR,
    "usageLocation": STR, "userPrincipalName": STR, "userType": STR,
}

USER = EntitySchema(
    name="user", resource="User", collection="users", props=_USER_PROPS,
    writable=frozenset({
        "accountEnabled", "ageGroup", "businessPhones", "city", "companyName",
        "consentProvidedForMinor", "country", "department", "displayName", "employeeHireDate",
        "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType", "faxNumber",
        "givenName", "identities", "jobTitle", "mail", "mailNickname", "mobilePhone",
        "officeLocation", "onPremisesExtensionAttributes", "onPremisesImmutableId", "otherMails",
        "passwordPolicies", "passwordProfile", "postalCode", "preferredDataLocation",
        "preferredLanguage", "showInAddressList", "state", "streetAddress", "surname",
        "usageLocation", "userPrincipalName", "userType",
    }),
    create_only=frozenset(),
    # user-post-users: "accountEnabled, displayName, mailNickname, passwordProfile,
    # userPrincipalName" are required.
    required=("accountEnabled", "displayName", "mailNickname", "userPrincipalName",
              "passwordProfile"),
    # user-list / user-get: "By default, only a limited set of properties are returned
    # (businessPhones, displayName, givenName, id, jobTitle, mail, mobilePhone,
    # officeLocation, preferredLanguage, surname, and userPrincipalName)."
    default_select=("businessPhones", "displayName", "givenName", "jobTitle", "mail",
                    "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                    "userPrincipalName", "id"),
    # The "Supports $filter (eq, ...)" notes of the user resource, basic queries only.
    filter_eq=frozenset({
        "id", "accountEnabled", "city", "companyName", "country", "creationType", "department",
        "displayName", "employeeId", "employeeType", "givenName", "jobTitle", "mail",
        "mailNickname", "officeLocation", "onPremisesImmutableId", "onPremisesSamAccountName",
        "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "onPremisesUserPrincipalName",
        "postalCode", "preferredLanguage", "state", "surname", "usageLocation",
        "userPrincipalName", "userType",
    }),
    filter_any=frozenset({"proxyAddresses", "otherMails", "imAddresses"}),
    orderby=frozenset({"displayName", "userPrincipalName"}),
)

_GROUP_PROPS: dict[str, str] = {
    "id": STR, "classification": STR, "createdDateTime": STR, "creationOptions": STRLIST,
    "deletedDateTime": STR, "description": STR, "displayName": STR, "expirationDateTime": STR,
    "groupTypes": STRLIST, "isAssignableToRole": BOOL, "mail": STR, "mailEnabled": BOOL,
    "mailNickname": STR, "membershipRule": STR, "membershipRuleProcessingState": STR,
    "onPremisesDomainName": STR, "onPremisesLastSyncDateTime": STR,
    "onPremisesNetBiosName": STR, "onPremisesProvisioningErrors": OBJLIST,
    "onPremisesSamAccountName": STR, "onPremisesSecurityIdentifier": STR,
    "onPremisesSyncEnabled": BOOL, "preferredDataLocation": STR, "preferredLanguage": STR,
    "proxyAddresses": STRLIST, "renewedDateTime": STR, "resourceBehaviorOptions": STRLIST,
    "resourceProvisioningOptions": STRLIST, "securityEnabled": BOOL, "securityIdentifier": STR,
    "serviceProvisioningErrors": OBJLIST, "theme": STR, "uniqueName": STR, "visibility": STR,
}

GROUP = EntitySchema(
    name="group", resource="Group", collection="groups", props=_GROUP_PROPS,
    writable=frozenset({
        "classification", "description", "displayName", "groupTypes", "isAssignableToRole",
        "mailEnabled", "mailNickname", "membershipRule", "membershipRuleProcessingState",
        "preferredDataLocation", "preferredLanguage", "resourceBehaviorOptions",
        "securityEnabled", "theme", "uniqueName", "visibility",
    }),
    # group resource: isAssignableToRole "can only be set at creation";
    # resourceBehaviorOptions "can be set only during creation"; uniqueName "can only be
    # set on create".
    create_only=frozenset({"isAssignableToRole", "resourceBehaviorOptions", "uniqueName"}),
    # group-post-groups: displayName, mailEnabled, mailNickname, securityEnabled are required.
    required=("displayName", "mailEnabled", "mailNickname", "securityEnabled"),
    default_select=None,
    filter_eq=frozenset({
        "id", "classification", "description", "displayName", "isAssignableToRole", "mail",
        "mailEnabled", "mailNickname", "membershipRuleProcessingState",
        "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
        "preferredLanguage", "securityEnabled", "uniqueName",
    }),
    filter_any=frozenset({"proxyAddresses", "groupTypes", "resourceProvisioningOptions"}),
    orderby=frozenset({"displayName"}),
)

SCHEMAS = {"user": USER, "group": GROUP}  # writable resources


def blank_object(schema: EntitySchema) -> dict:
    """Every declared property with the value Graph shows when it was never set."""
    obj: dict = {}
    for prop, kind in schema.props.items():
        obj[prop] = [] if kind in (STRLIST, OBJLIST) else None
    if schema is USER:
        obj["onPremisesExtensionAttributes"] = {n: None for n in EXTENSION_ATTRIBUTE_NAMES}
    return obj


# directoryRole resource: https://learn.microsoft.com/graph/api/resources/directoryrole
# (id, deletedDateTime, description, displayName, roleTemplateId; all read-only here).
DIRECTORY_ROLE = EntitySchema(
    name="directoryRole", resource="DirectoryRole", collection="directoryRoles",
    props={"id": STR, "deletedDateTime": STR, "description": STR, "displayName": STR,
           "roleTemplateId": STR},
    writable=frozenset(), create_only=frozenset(), required=(), default_select=None,
    filter_eq=frozenset(), filter_any=frozenset(),
)

# Built-in roles the emulator knows by name: display name -> (template id, description),
# from "Microsoft Entra built-in roles" (All roles table):
# https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference
BUILT_IN_ROLES: dict[str, tuple[str, str]] = {
    "Global Administrator": (
        "62e90394-69f5-4237-9190-012177145e10",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use "
        "Microsoft Entra identities."),
    "User Administrator": (
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "Can manage all aspects of users and groups, including resetting passwords for "
        "limited admins."),
    "Exchange Administrator": (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Can manage all aspects of the Exchange product."),
    "Groups Administrator": (
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Members of this role can create/manage groups, create/manage groups settings like "
        "naming and expiration policies, and view groups activity and audit reports."),
    "Helpdesk Administrator": (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Can reset passwords for non-administrators and Helpdesk Administrators."),
    "Global Reader": (
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Can read everything that a Global Administrator can, but not update anything."),
    "Directory Readers": (
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Can read basic directory information. Commonly used to grant directory read access "
        "to applications and guests."),
    "Directory Synchronization Accounts": (
        "d29b2b05-8046-44ba-8758-1e26182fcf32",
        "Only used by Microsoft Entra Connect service."),
    "Privileged Role Administrator": (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged "
        "Identity Management."),
}
