"""The names of the steps' Details entries, in one place.

Most are the original cmdlet's own keys (runbooks and the HTML report read them);
pybridge's additions say what the original leaves unsaid (the Graph request in
staging mode, how a match was made, references it could not resolve).
"""
from __future__ import annotations

import json

from ..core.model import AttributeInfo, ProvisioningStep

REASON = "Reason"  # the failing or skipping step's reason
ATTRIBUTE_INFO_JSON = "AttributeInfoJson"

# steps 1-6: scoping
TENANT = "Tenant"
GRAPH_ENDPOINT = "Graph endpoint"
INCLUDED_CONTAINERS = "Included containers"
EXCLUDED_CONTAINERS = "Excluded containers"
DOMAIN_CONTROLLER = "Domain controller"
OBJECT_TYPE_INCLUSION_LIST = "Object type inclusion list"
OBJECT_TYPE_IN_AD = "Object type in Active Directory"
GROUP_FILTERING_ENABLED = "Group filtering enabled"
GROUP_DN = "Group distinguished name"
MEMBERSHIP = "Membership"

# steps 7-8: import
RUN_STEP_RESULT = "Run step result"
RANGED_RETRIEVAL = "Ranged retrieval"
CS_OBJECT_TYPE = "Connector Space Object Type"
CS_OBJECT_OPERATION = "Connector Space Object Operation"
MATCH = "Match"
SOURCE_ANCHOR = "Source anchor"

# step 9: sync
SYNC_STEP_RESULT = "Sync step result"
OUT_OF_SCOPE_RULES = "Out of scope sync rules"
MV_OBJECT_TYPE = "Metaverse Object Type"
MV_OBJECT_OPERATION = "Metaverse Object Operation"
CONNECTED_MV_OBJECT = "Connected Object in Metaverse"
PENDING_EXPORT = "Pending export"
NOT_EXPORTABLE = "Not exportable through Microsoft Graph"
UNRESOLVED_REFERENCES = "Unresolved references"
# Not a detail: the key in SyncResult.extra under which step 9 leaves {member or manager DN: Entra id or None},
# so that the HTML report can name the members it shows by id (neither JSON shape carries it).
RESOLVED_REFERENCES = "resolved_references"

# step 10: export
EXPORT_STEP_RESULT = "Export step result"
# The export step's result while it writes: a run that stops there stopped after sending something to Graph
# (success replaces it); a failure found before sending leaves no such result.
EXPORT_FAILED_WHILE_SENDING = "failure after sending to Microsoft Graph"
GRAPH_REQUEST = "Graph request"
GRAPH_REQUEST_BODY = "Graph request body"
GRAPH_MEMBER_CHANGES = "Graph member changes"
GRAPH_MANAGER_CHANGE = "Graph manager change"
MEMBER_CHANGES = "Member changes"
CONFIRMED_BY_READ_BACK = "Confirmed by read-back"
CREATE_ANSWER_LOST = "Create answer lost"
NOT_CLEARED = "Not cleared"


def partition_selected(connector: str, partition: str) -> str:
    return f'Connector "{connector}" Partition "{partition}" selected'


def container_included(container: str) -> str:
    return f'Container "{container}" included'


def accessible_with(account: str) -> str:
    return f'Object accessible using connector account "{account}" credentials'


def member_of_group(group: str) -> str:
    return f'Object is member of Group "{group}" in Active Directory'


def in_connector_space(connector: str) -> str:
    return f'Object in "{connector}" Connector Space'


def source_in_connector_space(connector: str) -> str:
    return f'Source Object in "{connector}" Connector Space'


def connected_target(connector: str) -> str:
    return f'Connected Target Object in "{connector}" Connector Space'


def show_attributes(step: ProvisioningStep, infos: list[AttributeInfo]) -> None:
    """The step's attribute table; the original double-encodes it as a JSON string in AttributeInfoJson."""
    step.attributes = infos
    step.details[ATTRIBUTE_INFO_JSON] = json.dumps(
        [{"Name": a.name, "IsMultiValued": a.is_multi_valued, "Type": a.type, "Value": a.value, "Add": a.add,
          "Delete": a.delete, "Operation": a.operation, "SyncRule": a.sync_rule, "MappingType": a.mapping_type,
          "DataSource": a.data_source} for a in infos], ensure_ascii=False)
