"""Property tables of the directory resources the emulator serves.

Sources (Microsoft Graph v1.0 reference):
  user:  https://learn.microsoft.com/graph/api/resources/user?view=graph-rest-1.0
  group: https://learn.microsoft.com/graph/api/resources/group?view=graph-rest-1.0
  orgContact: https://learn.microsoft.com/graph/api/resources/orgcontact?view=graph-rest-1.0
  directoryRole: https://learn.microsoft.com/graph/api/resources/directoryrole?view=graph-rest-1.0
  servicePrincipal: https://learn.microsoft.com/graph/api/resources/serviceprincipal?view=graph-rest-1.0
Which $filter operators work by default and which only as advanced queries
(ConsistencyLevel: eventual and $count=true) follows the per-property tables of
"Advanced query capabilities on Microsoft Entra ID objects"
(https://learn.microsoft.com/graph/aad-advanced-queries).
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
    filter_eq: frozenset[str]     # supports `eq` (and startswith for strings) by default
    filter_any: frozenset[str]    # string collections supporting any(x:x eq '...')
    orderby: frozenset[str] = field(default_factory=frozenset)
    # eq/startsWith only as advanced queries (aad-advanced-queries: "Requires advanced query
    # parameters" in the eq column)
    filter_advanced: frozenset[str] = field(default_factory=frozenset)
    # endsWith, only as an advanced query (aad-advanced-queries: "The endsWith operator is
    # supported only with advanced queries on mail and userPrincipalName properties")
    filter_endswith: frozenset[str] = field(default_factory=frozenset)
    # takes directory extension properties (extension_<appId>_<name>): users and groups
    extensible: bool = False

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
    # aad-advanced-queries, "User properties": eq supported by default.
    filter_eq=frozenset({
        "id", "accountEnabled", "ageGroup", "city", "consentProvidedForMinor", "country",
        "creationType", "department", "displayName", "employeeId", "externalUserState",
        "givenName", "isResourceAccount", "jobTitle", "mail", "mailNickname",
        "onPremisesImmutableId", "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "state",
        "surname", "usageLocation", "userPrincipalName", "userType",
    }),
    filter_any=frozenset({"proxyAddresses", "otherMails", "imAddresses"}),
    orderby=frozenset({"displayName", "userPrincipalName"}),
    # ... and eq only with advanced query parameters.
    filter_advanced=frozenset({
        "companyName", "createdDateTime", "employeeHireDate", "employeeType", "faxNumber",
        "mobilePhone", "officeLocation", "onPremisesSamAccountName", "postalCode",
        "preferredLanguage", "showInAddressList", "streetAddress",
    }),
    filter_endswith=frozenset({"mail", "userPrincipalName"}),
    extensible=True,
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
    # aad-advanced-queries, "Group properties" (isAssignableToRole, membershipRuleProcessingState
    # and uniqueName from the group resource's "Supports $filter (eq ...)" notes).
    filter_eq=frozenset({
        "id", "classification", "displayName", "isAssignableToRole", "mail", "mailEnabled",
        "mailNickname", "membershipRule", "membershipRuleProcessingState",
        "onPremisesSyncEnabled", "securityEnabled", "uniqueName",
    }),
    filter_any=frozenset({"proxyAddresses", "groupTypes", "resourceProvisioningOptions"}),
    orderby=frozenset({"displayName"}),
    filter_advanced=frozenset({"description", "expirationDateTime", "onPremisesSamAccountName",
                               "preferredLanguage"}),
    filter_endswith=frozenset({"mail"}),
    extensible=True,
)

# orgContact resource: organizational contacts are synchronised from on-premises or managed in
# Exchange Online; Microsoft Graph v1.0 offers no create or update for them (orgcontact-list,
# orgcontact-get are the reads). "Organizational contact properties" of aad-advanced-queries give
# the $filter support; proxyAddresses supports eq through any() (orgContact resource).
ORG_CONTACT = EntitySchema(
    name="orgContact", resource="Contact", collection="contacts",
    props={"id": STR, "addresses": OBJLIST, "companyName": STR, "deletedDateTime": STR,
           "department": STR, "displayName": STR, "givenName": STR, "jobTitle": STR,
           "mail": STR, "mailNickname": STR, "onPremisesLastSyncDateTime": STR,
           "onPremisesProvisioningErrors": OBJLIST, "onPremisesSyncEnabled": BOOL,
           "phones": OBJLIST, "proxyAddresses": STRLIST, "serviceProvisioningErrors": OBJLIST,
           "surname": STR},
    writable=frozenset(), create_only=frozenset(), required=(), default_select=None,
    filter_eq=frozenset({"id", "department", "displayName", "givenName", "jobTitle", "mail",
                         "mailNickname", "onPremisesSyncEnabled", "surname"}),
    filter_any=frozenset({"proxyAddresses"}),
    orderby=frozenset({"displayName"}),
    filter_advanced=frozenset({"companyName"}),
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

# servicePrincipal resource (the app's own, the only one the emulator knows): addressed by id or
# by appId, "GET /servicePrincipals(appId='{appId}')" (serviceprincipal-get).
SERVICE_PRINCIPAL = EntitySchema(
    name="servicePrincipal", resource="ServicePrincipal", collection="servicePrincipals",
    props={"id": STR, "accountEnabled": BOOL, "appDisplayName": STR, "appId": STR,
           "deletedDateTime": STR, "displayName": STR, "servicePrincipalType": STR},
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
    "Privileged Authentication Administrator": (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Can access to view, set and reset authentication method information for any user "
        "(admin or non-admin)."),
    "Authentication Administrator": (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Can access to view, set and reset authentication method information for any "
        "non-admin user."),
    "Hybrid Identity Administrator": (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Can manage Microsoft Entra Connect, Microsoft Entra Cloud Sync, Pass-through "
        "Authentication, Password Hash Synchronization, Seamless SSO and federation settings."),
    "Guest Inviter": (
        "95e79109-95c0-4d8e-aee3-d01accf2d47b",
        "Can invite guest users independent of the 'members can invite guests' setting."),
    "Message Center Reader": (
        "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
        "Can read messages and updates for their organization in Message Center only."),
    "Reports Reader": (
        "4a5d8f65-41da-4de4-8968-e035b65339cf",
        "Can read sign-in and audit reports."),
}

# Who can change a privileged user's sensitive properties ("Who can perform sensitive actions",
# https://learn.microsoft.com/graph/api/resources/users#who-can-perform-sensitive-actions, and
# user-update: "To update sensitive user properties, such as accountEnabled, mobilePhone, and
# otherMails for users with privileged administrator roles ... In app-only scenarios, the app must
# be assigned a higher privileged administrator role"). A user holding no role, or only these
# roles, is not privileged (user-update: "only allowed on users who are non-administrators or
# assigned one of the following roles: Directory Readers, Guest Inviter, Message Center Reader,
# and Reports Reader"):
UNPRIVILEGED_ROLE_TEMPLATES = frozenset({
    BUILT_IN_ROLES["Directory Readers"][0], BUILT_IN_ROLES["Guest Inviter"][0],
    BUILT_IN_ROLES["Message Center Reader"][0], BUILT_IN_ROLES["Reports Reader"][0]})
# ... and an app may change anyone's sensitive properties when it holds one of these:
PRIVILEGED_WRITER_TEMPLATES = frozenset({
    BUILT_IN_ROLES["Global Administrator"][0],
    BUILT_IN_ROLES["Privileged Authentication Administrator"][0]})
# The sensitive properties ("Who can perform sensitive actions"): accountEnabled,
# businessPhones, mobilePhone, onPremisesImmutableId, otherMails, passwordProfile,
# userPrincipalName.
SENSITIVE_USER_PROPERTIES = frozenset({
    "accountEnabled", "businessPhones", "mobilePhone", "onPremisesImmutableId", "otherMails",
    "passwordProfile", "userPrincipalName"})
