"""The ten steps of Single Object Sync: the step table (steps.py), the state a run carries (state.py), the
handlers grouped by kind (scoping_steps, import_steps, sync_step, export_step), and the two ports the
steps talk through (ports.py: Directory and Tenant).

Nothing is imported here, so that the connectors can import the ports without the steps.
"""
