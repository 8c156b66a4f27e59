"""Session fixtures: a real Samba AD DC and the Graph emulator, and a configuration pointing at both.

The DC listens on its own loopback address (127.0.0.31 unless PYBRIDGE_TEST_SAMBA_HOST2
says otherwise) so it never clashes with a lab started by `pybridge lab up`.
Tests that need them skip with the reason where root or Samba are missing.
"""
from __future__ import annotations

import io
import json
import os
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pybridge.cli import main
from pybridge_lab.ca import create_ca, issue_server_cert
from pybridge_lab.errors import LabError
from tests.support import missing_prerequisite

HOST = os.environ.get("PYBRIDGE_TEST_SAMBA_HOST2", "127.0.0.31")
FEDERATED_DOMAINS = ["fabrikam.com", "northwind.com"]  # verified, federated domains of the test tenant
CLIENT_SECRET = "pybridge-test-client-secret-" + uuid.uuid4().hex  # known, to search outputs for it


@dataclass
class Lab:
    dc: Any
    info: Any
    dns: dict[str, str]
    emulator: Any
    root: Path
    tenant_id: str
    client_id: str
    secret_file: Path

    def config(self, tmp: Path, **overrides: Any) -> Path:
        """Write a configuration for this lab into *tmp* (state and reports there too)."""
        base = self.info.base_dn
        cfg: dict[str, Any] = {
            "version": 1,
            "ad_connectors": [{
                "name": "contoso.com",
                "servers": [self.info.ldaps_url],
                "tls": {"validate": True, "ca_file": str(self.info.ca_file)},
                "account": {"username": self.info.connector_username,
                            "password_file": str(self.info.connector_password_file)},
                "partitions": [base],
                "containers": {"include": [f"OU=Corp,{base}"], "exclude": [f"OU=Excluded,OU=Corp,{base}"]},
            }],
            "entra": {"tenant_id": self.tenant_id, "client_id": self.client_id,
                      "client_secret_file": str(self.secret_file),
                      "authority_host": self.emulator.base_url, "graph_endpoint": self.emulator.base_url,
                      "ca_file": str(self.root / "ca" / "ca.pem")},
            "state": {"path": str(tmp / "state" / "pybridge.db")},
            "report": {"directory": str(tmp / "reports")},
        }
        for dotted, value in overrides.items():
            node = cfg
            keys = dotted.split(".")
            for k in keys[:-1]:
                node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
            node[keys[-1]] = value
        tmp.mkdir(parents=True, exist_ok=True)
        path = tmp / "pybridge.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def samba_lab(tmp_path_factory):
    from pybridge_lab.graph_emulator import GraphEmulator
    from pybridge_lab.samba import SambaDC, check_prerequisites

    try:
        check_prerequisites()
    except LabError as exc:
        missing_prerequisite(f"needs root and Debian's samba packages (CI installs them): {exc}")
    root = tmp_path_factory.mktemp("pybridge-lab")
    ca = create_ca(root / "ca")
    dc = SambaDC(root / "dc", ca=ca, host=HOST)
    info = dc.start()
    dns = dc.seed()
    cert = issue_server_cert(ca, root / "graph", "graph", names=("localhost", "127.0.0.1"))
    tenant, client = str(uuid.uuid4()), str(uuid.uuid4())
    secret_file = root / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    secret_file.chmod(0o600)
    emulator = GraphEmulator(certfile=cert.cert, keyfile=cert.key, tenant_id=tenant, client_id=client,
                             client_secret=CLIENT_SECRET, federated_domains=FEDERATED_DOMAINS).start()
    try:
        yield Lab(dc, info, dns, emulator, root, tenant, client, secret_file)
    finally:
        emulator.stop()
        dc.stop()


@pytest.fixture
def lab(samba_lab, tmp_path):
    samba_lab.emulator.reset()
    return samba_lab


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"stdout must hold exactly one JSON document, got {len(lines)} lines"
        return json.loads(lines[0])

    def step(self, n: int) -> dict[str, Any]:
        return self.json["ProvisioningSteps"][n - 1]


def run_cli(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refuses a usage error by exiting, as the command does
            code = exc.code if isinstance(exc.code, int) else 2
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli
