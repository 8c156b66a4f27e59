"""A throw-away lab for benchmarks: a Samba AD DC on its own loopback address and an in-process Graph emulator."""
from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from pybridge_lab.ca import create_ca, issue_server_cert  # noqa: E402
from pybridge_lab.graph_emulator import GraphEmulator  # noqa: E402
from pybridge_lab.samba import SambaDC  # noqa: E402


class BenchLab:
    def __init__(self, host: str, page_size: int = 999) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pybridge-bench-"))
        ca = create_ca(self.root / "ca")
        self.ca = ca
        self.dc = SambaDC(self.root / "dc", ca=ca, host=host)
        self.info = self.dc.start()
        self.dc.seed()  # the connector account and the sample
        cert = issue_server_cert(ca, self.root / "graph", "graph", names=("localhost", "127.0.0.1"))
        self.tenant, self.client, secret = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex
        self.secret_file = self.root / "secret"
        self.secret_file.write_text(secret)
        self.secret_file.chmod(0o600)
        self.emulator = GraphEmulator(certfile=cert.cert, keyfile=cert.key, tenant_id=self.tenant,
                                      client_id=self.client, client_secret=secret, page_size=page_size).start()

    def config(self, **extra: Any) -> Path:
        cfg = {"ad_connectors": [{"name": "contoso.com", "servers": [self.info.ldaps_url],
                                  "tls": {"ca_file": str(self.info.ca_file)},
                                  "account": {"username": self.info.connector_username,
                                              "password_file": str(self.info.connector_password_file)},
                                  "partitions": [self.info.base_dn]}],
               "entra": {"tenant_id": self.tenant, "client_id": self.client,
                         "client_secret_file": str(self.secret_file), "authority_host": self.emulator.base_url,
                         "graph_endpoint": self.emulator.base_url, "ca_file": str(self.ca.cert)},
               "state": {"path": str(self.root / "state" / "pybridge.db")}, **extra}
        path = self.root / "pybridge.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    def add_users(self, ou: str, count: int, prefix: str = "bench") -> list[str]:
        conn = self.dc.connection()
        try:
            conn.add(ou, ["top", "organizationalUnit"])
            dns = [f"CN={prefix.title()} User {i:06d},{ou}" for i in range(count)]
            for i, dn in enumerate(dns):
                conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                         {"sAMAccountName": f"{prefix}{i:06d}", "userPrincipalName": f"{prefix}{i:06d}@contoso.com",
                          "givenName": "Bench", "sn": f"User {i}", "userAccountControl": 514})
            return dns
        finally:
            conn.unbind()

    def close(self) -> None:
        self.emulator.stop()
        self.dc.stop()

    def __enter__(self) -> "BenchLab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
