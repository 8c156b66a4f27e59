"""Every ErrorCode pybridge emits, with its meaning and recommended action, in one table.

docs/error-codes.md is checked against this table by the tests, and the tests
fail if the code can emit a code that is not here.
"""
from __future__ import annotations

from msgspec import Struct


DOCS = "https://learn.microsoft.com/entra/identity/hybrid/connect/"


class ErrorCode(Struct, frozen=True):
    """One ErrorCode the user sees: its category, what it means and what to do."""

    code: str
    category: str  # errorCategory of Graph's provisioningErrorInfo: failure | nonServiceFailure
    meaning: str
    action: str
    link: str | None = None


_CODES = [
    ErrorCode("ConfigurationError", "nonServiceFailure", "The configuration file or a secret it names is unusable.",
              "Fix the settings listed in the message; `pybridge config example` prints a configuration that "
              "documents every key, and `pybridge config check` tests one."),
    ErrorCode("InvalidDistinguishedName", "nonServiceFailure", "The distinguished name given is not a valid DN.",
              "Pass the DN exactly as Active Directory shows it, with RFC 4514 escapes (\\, for a comma), or "
              "name the object by its userPrincipalName, DOMAIN\\sAMAccountName or objectGUID."),
    ErrorCode("IdentityNotFound", "nonServiceFailure",
              "No object in the configured AD connectors' partitions has the userPrincipalName, sAMAccountName "
              "or objectGUID given instead of a DN (or the connector account cannot see it).",
              "Check the value (for DOMAIN\\name, DOMAIN is the domain's NetBIOS or DNS name) and the partitions "
              "in ad_connectors[].partitions, or pass the object's distinguished name."),
    ErrorCode("IdentityAmbiguous", "nonServiceFailure",
              "The userPrincipalName, sAMAccountName or objectGUID given instead of a DN names several objects "
              "(in several connectors' directories).",
              "Pass the distinguished name of the object you mean; the reason lists the candidates."),
    ErrorCode("PartitionNotInScope", "nonServiceFailure",
              "The DN is not inside any naming context selected on an AD connector.",
              "Check the DN's domain, or add its partition to ad_connectors[].partitions."),
    ErrorCode("EntraConnectorNotConfigured", "nonServiceFailure",
              "The Entra connector is not usable (no token could be had).",
              "Check entra.tenant_id, entra.client_id and the credential; see the reason for the exact cause."),
    ErrorCode("AuthenticationFailed", "nonServiceFailure", "Microsoft Entra ID refused the app's credential.",
              "Check entra.client_id and the client secret or certificate (expired or wrong); "
              "create a new secret in the app registration if needed."),
    ErrorCode("TenantNotFound", "nonServiceFailure", "The tenant in entra.tenant_id does not exist in this cloud.",
              "Check entra.tenant_id and entra.authority_host (national clouds have their own)."),
    ErrorCode("ContainerNotInScope", "failure", "The object's OU (container) is excluded or not included.",
              "Change ad_connectors[].containers (include/exclude) if the object should sync.",
              DOCS + "how-to-connect-sync-configure-filtering"),
    ErrorCode("FilteredObject", "failure",
              "A sync rule's scope filters the object out (Entra Connect's cloudFiltered: system, service and "
              "excluded objects).", "Expected for such objects; otherwise change the attribute named in the reason "
              "or customise the rule with one of your own (rules.files).",
              DOCS + "concept-azure-ad-connect-sync-default-configuration"),
    ErrorCode("SyncRuleEvaluationError", "nonServiceFailure",
              "A sync rule's expression failed for this object, or more than one join rule is in scope.",
              "Correct the rule named in the reason (pybridge rules show NAME) or the attribute value it cannot "
              "handle."),
    ErrorCode("sync-rule-error-function-triggered", "failure",
              "A sync rule called Error() for this object (Entra Connect's own code).",
              "Read the rule's message in the reason; it says what the rule requires of the object."),
    ErrorCode("ObjectNotAccessible", "failure",
              "The object does not exist or the connector account cannot read it.",
              "Check the DN, and grant the connector account read access to the object (and its OU).",
              DOCS + "reference-connect-accounts-permissions"),
    ErrorCode("ObjectTypeNotInScope", "failure", "The object's class is not among the object types in scope.",
              "Add the class to ad_connectors[].object_types if it should sync."),
    ErrorCode("GroupFilteringNotMember", "failure",
              "Group filtering is on and the object is not a member of the filtering group.",
              "Add the object to the filtering group (directly, as Entra Connect requires) or turn group "
              "filtering off.", DOCS + "how-to-connect-install-custom#sync-filtering-based-on-groups"),
    ErrorCode("LdapServerUnavailable", "nonServiceFailure", "No domain controller of the connector answered.",
              "Check that the servers in ad_connectors[].servers run and are reachable on 636 or 389."),
    ErrorCode("LdapTlsValidationFailed", "nonServiceFailure", "The domain controller's certificate did not validate.",
              "Set ad_connectors[].tls.ca_file to the issuing CA, or tls.server_name to the certificate's name."),
    ErrorCode("LdapAuthenticationFailed", "nonServiceFailure", "The connector account's bind was refused.",
              "Check the connector account's user name and password; make sure it is enabled and not locked out."),
    ErrorCode("LdapError", "nonServiceFailure", "The domain controller answered an LDAP error.",
              "Read the reason for the LDAP result; check the connector account's permissions."),
    ErrorCode("UnsupportedObjectType", "failure",
              "Microsoft Graph cannot create or update this kind of object.",
              "Sync it with Entra Connect or Cloud Sync, or manage it in Exchange Online (mail-enabled objects)."),
    ErrorCode("SourceAnchorMissing", "failure", "The object has no value for the sourceAnchor attribute.",
              "Check sync.source_anchor; objectGUID is always present on AD objects the account can read."),
    ErrorCode("IdentityDataValidationFailed", "failure",
              "A value Entra ID would refuse: invalid characters or format, a missing required value, or a value "
              "over Graph's length limit.",
              "Correct the attribute named in the reason in Active Directory, then sync again.",
              "https://aka.ms/aadc-exporterror-datavalidationfailed"),
    ErrorCode("AttributeValueMustBeUnique", "failure",
              "Another Entra object already holds the same userPrincipalName, proxy address or mail.",
              "Find the conflicting object named in the reason and remove or change the duplicate value.",
              "https://aka.ms/aadc-exporterror-attributevaluemustbeunique"),
    ErrorCode("InvalidSoftMatch", "failure",
              "Soft match found a cloud object that already belongs to another on-premises object.",
              "Find the on-premises owner of the cloud object; remove the duplicate UPN or proxy address from one "
              "of them.", "https://aka.ms/aadc-exporterror-invalidsoftmatch"),
    ErrorCode("ObjectTypeMismatch", "failure",
              "Soft match found an Entra object of another type holding the same address.",
              "Remove the shared address from one of the two objects; Entra ID never joins objects of different "
              "types.", "https://aka.ms/aadc-exporterror-objecttypemismatch"),
    ErrorCode("InvalidHardMatch", "failure",
              "Hard match found a cloud-managed object, and taking over cloud objects by hard match is blocked.",
              "Clear onPremisesImmutableId on the cloud object if it should not be taken over, or allow the "
              "takeover (sync.block_cloud_object_takeover_through_hard_match: false) if it should.",
              DOCS + "tshoot-connect-sync-errors"),
    ErrorCode("ExistingAdminRoleConflict", "failure",
              "Soft match found a cloud user who holds an administrator role; Entra ID never soft-matches those.",
              "Remove the directory role from the cloud user before the first sync (and add it again afterwards), "
              "or match by hard match (set its onPremisesImmutableId).", DOCS + "tshoot-connect-sync-errors"),
    ErrorCode("UpnSuffixNotVerified", "failure",
              "The userPrincipalName suffix is not a verified domain of the tenant.",
              "Add and verify the domain in the tenant, or give the user a UPN in a verified domain.",
              DOCS + "howto-connect-install-prerequisites"),
    ErrorCode("FederatedDomainChangeError", "failure",
              "The userPrincipalName would move from one federated domain to another.",
              "Change the UPN to a managed domain first, then to the new federated domain.",
              "https://aka.ms/aadc-exporterror-federateddomainchangeerror"),
    ErrorCode("LargeObject", "failure",
              "The object exceeds a limit of Entra ID (userCertificate, thumbnailPhoto, proxyAddresses, or group "
              "size).", "Reduce the attribute named in the reason below the limit.",
              "https://aka.ms/aadc-exporterror-largeobject"),
    ErrorCode("GraphBadRequest", "failure", "Microsoft Graph refused the request as invalid.",
              "Read Graph's message in the reason; fix the attribute value in Active Directory."),
    ErrorCode("GraphAuthorizationFailed", "nonServiceFailure",
              "Microsoft Graph refused the call: the app lacks a permission.",
              "Grant the app the Graph application permissions User.ReadWrite.All, Group.ReadWrite.All and "
              "Directory.Read.All, with admin consent; `pybridge config check` names what is missing."),
    ErrorCode("GraphResourceNotFound", "failure", "Microsoft Graph says the object does not exist.",
              "Run the sync again; the object may have been deleted in Entra ID meanwhile."),
    ErrorCode("GraphServiceError", "nonServiceFailure", "Microsoft Graph failed (5xx) after retries.",
              "Retry later; check the Microsoft 365 service health page."),
    ErrorCode("GraphUnavailable", "nonServiceFailure", "Microsoft Graph could not be reached.",
              "Check network access, proxy and TLS trust (entra.ca_file) for the Graph endpoint."),
    ErrorCode("GraphLinkNotTrusted", "nonServiceFailure",
              "Microsoft Graph's answer pointed to another scheme, host or port than entra.graph_endpoint (a "
              "next-page link), or was a redirect; pybridge did not follow it, so neither the bearer token nor the "
              "request went there.",
              "Check entra.graph_endpoint (a national cloud or a proxy must be configured there, exactly as its "
              "links name it); if it is right, something between pybridge and Graph altered the answer: check TLS "
              "trust (entra.ca_file) and the network path."),
    ErrorCode("Throttled", "nonServiceFailure", "Microsoft Graph throttled the requests (429) beyond the wait limit.",
              "Retry after 5 minutes, as Microsoft documents for Single Object Sync."),
    ErrorCode("ExportNotConfirmed", "failure", "The read-back after the export did not show the written values.",
              "Run the sync again; if it persists, another process changes the object in Entra ID."),
    ErrorCode("CreateNotConfirmed", "nonServiceFailure",
              "A group's create got no answer and the group is not (yet) in Entra ID.",
              "Run the sync again in a minute: it finds the group if Graph created it, and creates it otherwise."),
    ErrorCode("EntraReplicationDelay", "nonServiceFailure",
              "Microsoft Entra ID does not show yet an object this run or an earlier one wrote (its directory is "
              "eventually consistent: a new object can answer Not Found for a while).",
              "Run the sync again in a minute. The object is recorded in the state, so the next run finds it and "
              "completes the export without creating it again.",
              "https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/"),
    ErrorCode("PrivilegedUserProtected", "failure",
              "The user holds a privileged administrator role; Microsoft Graph lets an app change its sensitive "
              "properties (accountEnabled, phones, otherMails, userPrincipalName...) only when the app holds a "
              "higher privileged role itself.",
              "Change the value in the Entra admin center as a Privileged Authentication Administrator or Global "
              "Administrator, or assign the app's service principal one of these roles (a powerful grant: "
              "weigh it).",
              "https://learn.microsoft.com/graph/api/resources/users#who-can-perform-sensitive-actions"),
    ErrorCode("StateStoreError", "nonServiceFailure", "The local state store cannot be used.",
              "Check state.path: the directory must be writable by this user, the file a pybridge state file."),
    ErrorCode("no-start-ma-already-running", "nonServiceFailure", "Another sync holds the lock.",
              "Wait for the running sync to finish, then run again.",
              "https://aka.ms/aadc-exporterror-no-start-ma-already-running"),
    ErrorCode("RemoteHostUnreachable", "nonServiceFailure",
              "The sync server could not be reached on its WinRM or SSH port (name not resolved, connection "
              "refused or timed out).",
              "Check the computer name, that WinRM listens (winrm enumerate winrm/config/listener) or sshd "
              "runs, and that firewalls allow the port (5986 for HTTPS, 5985 for HTTP, 22 for SSH)."),
    ErrorCode("RemoteAuthenticationFailed", "nonServiceFailure",
              "The sync server refused the credentials (HTTP 401 over WinRM; over SSH, the key was refused).",
              "Check the user name (DOMAIN\\user or user@domain), the password source and the "
              "authentication method; Basic needs a local account and AllowBasic on the listener. Over SSH, "
              "check --ssh-key and that its public key is in the account's authorized_keys (an "
              "administrator's: administrators_authorized_keys)."),
    ErrorCode("RemoteHostKeyUnknown", "nonServiceFailure",
              "The sync server's SSH host key is not in known_hosts, so its identity cannot be checked "
              "(pybridge never accepts an unknown host key).",
              "Check the server's key fingerprint with its administrator (ssh-keygen -lf on the server's "
              "host key), then add it to known_hosts (or the file given with --known-hosts / "
              "remote.servers.<name>.known_hosts_file), e.g. with ssh-keyscan -p PORT HOST."),
    ErrorCode("RemoteHostKeyChanged", "nonServiceFailure",
              "The sync server's SSH host key differs from the one in known_hosts: the server was "
              "reinstalled or re-keyed, or someone is intercepting the connection.",
              "Do not connect until the server's administrator confirms the new key's fingerprint; then "
              "replace the old entry (ssh-keygen -R HOST) and add the new one."),
    ErrorCode("RemoteSubsystemMissing", "nonServiceFailure",
              "The SSH server has no 'powershell' subsystem (PowerShell's SSH remoting is not set up there).",
              "Install PowerShell 7 on the server and add 'Subsystem powershell <pwsh> -sshs -NoLogo "
              "-NoProfile' to its sshd_config, then restart sshd (docs/remote.md)."),
    ErrorCode("RemoteAccessDenied", "nonServiceFailure",
              "The credentials were accepted but the account may not open a remote shell.",
              "Add the account to the server's Remote Management Users (or Administrators) group, or to "
              "the session configuration's permissions."),
    ErrorCode("RemoteTlsValidationFailed", "nonServiceFailure",
              "The sync server's HTTPS certificate did not validate (untrusted issuer, expired, or a name "
              "that does not match the computer name).",
              "Give the issuing CA with --ca-file (remote.servers.<name>.ca_file), or connect with the "
              "name the certificate was issued for."),
    ErrorCode("RemoteModuleNotFound", "nonServiceFailure",
              "The module holding Invoke-ADSyncSingleObjectSync was not found on the sync server.",
              "Check --module-path (remote.servers.<name>.module_path); Entra Connect installs it at "
              "C:\\Program Files\\Microsoft Azure AD Sync\\Bin\\ADSyncDiagnostics\\ADSyncDiagnostics.psm1."),
    ErrorCode("RemoteModuleImportFailed", "nonServiceFailure",
              "The module was found but could not be imported on the sync server.",
              "Read the remote error; check the execution policy and that the module's dependencies "
              "(the ADSync module) are installed."),
    ErrorCode("RemoteCmdletFailed", "nonServiceFailure",
              "Invoke-ADSyncSingleObjectSync failed on the sync server without returning a result.",
              "Read the remote error in the reason; run the cmdlet on the server to see the full error."),
    ErrorCode("RemoteThrottled", "nonServiceFailure",
              "The sync server's WinRM service refused the request because a quota was exceeded (too many "
              "shells or operations for this user) or it is overloaded (HTTP 503); over SSH, sshd refused "
              "more sessions (MaxStartups, MaxSessions).",
              "Retry in a few minutes; close stale sessions or raise MaxShellsPerUser / "
              "MaxConcurrentOperationsPerUser on the server."),
    ErrorCode("RemoteTimeout", "nonServiceFailure",
              "The remote run did not finish within the operation timeout.",
              "Raise --operation-timeout (remote.servers.<name>.operation_timeout); check whether a sync "
              "cycle is running on the server."),
    ErrorCode("RemoteWinRMError", "nonServiceFailure",
              "The WinRM service answered with an error (a WS-Management fault or an unexpected HTTP "
              "status).",
              "Read the fault in the reason; check the session configuration name and the WinRM service "
              "on the server."),
    ErrorCode("RemoteProtocolError", "nonServiceFailure",
              "The sync server's answer could not be understood (no JSON result, a broken stream, a TLS "
              "handshake that is not HTTPS, an SSH connection that ended before PowerShell answered).",
              "Check that the port speaks the chosen protocol (HTTPS on 5986, HTTP on 5985, SSH on 22) and "
              "that the module is a version that returns the result as JSON."),
    ErrorCode("UsageError", "nonServiceFailure", "The command line is wrong.",
              "See pybridge --help and the subcommand's --help."),
    ErrorCode("SourceError", "nonServiceFailure", "Active Directory could not be read as needed.",
              "Read the reason; check the domain controllers and the connector account."),
    ErrorCode("TargetError", "nonServiceFailure", "Microsoft Graph refused or failed a request.",
              "Read Graph's answer in the reason."),
    ErrorCode("InternalError", "nonServiceFailure", "pybridge failed unexpectedly.",
              "Report the problem with the details; the state store was left as it was before the run."),
]

ERROR_CODES: dict[str, ErrorCode] = {c.code: c for c in _CODES}


def lookup(code: str) -> ErrorCode:
    return ERROR_CODES.get(code) or ERROR_CODES["InternalError"]


def markdown() -> str:
    """docs/error-codes.md, generated from the table so that the two never drift apart."""
    lines = ["# Error codes", "",
             "Every `StatusInfo.ErrorCode` pybridge emits, with its meaning, its `ErrorCategory` and the recommended "
             "action. Generated by `python -m pybridge.core.errorcodes`; a test fails when this file and the table "
             "in `pybridge/core/errorcodes.py` differ, or when the code can emit a code missing here.", "",
             "| ErrorCode | Category | Meaning | Recommended action | Documentation |", "|---|---|---|---|---|"]
    for c in _CODES:
        link = f"[link]({c.link})" if c.link else ""
        lines.append(f"| `{c.code}` | {c.category} | {c.meaning} | {c.action} | {link} |".replace("\n", " "))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
