"""`pybridge lab up|status|down`: the Samba AD DC and the Graph emulator, and a ready configuration.

Everything lives under one lab directory; lab.json records exactly which
processes `up` started, so `down` stops those and nothing else.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import yaml

from pybridge import platform
from .errors import LabError
from .ca import create_ca, issue_server_cert

Log = Callable[[str], None]
DEFAULT_HOST = "127.0.0.1"
EMULATOR_MODULE = "pybridge_lab.graph_emulator"
# what the emulator's command line holds: its module now, and before the lab was its own distribution
# (so that `down` still stops an emulator that an older `pybridge lab up` started)
_EMULATOR_MARKERS = (EMULATOR_MODULE, "pybridge.lab.graph_emulator")


def _state_file(lab_dir: Path) -> Path:
    return lab_dir / "lab.json"


def _load(lab_dir: Path) -> dict[str, Any]:
    try:
        return json.loads(_state_file(lab_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save(lab_dir: Path, state: dict[str, Any]) -> None:
    tmp = _state_file(lab_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(_state_file(lab_dir))


def _alive(pid: int | None, markers: tuple[str, ...] = _EMULATOR_MARKERS) -> bool:
    """True when *pid* runs and its command line names one of *markers* (so a recycled pid is never signalled)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return any(marker in cmdline for marker in markers)


def _start_emulator(lab_dir: Path, state: dict[str, Any], ca: Any, log: Log) -> None:
    host = state["host"]
    gdir = lab_dir / "graph"
    platform.make_private_dir(gdir)
    cert = issue_server_cert(ca, gdir, "graph", names=tuple(dict.fromkeys(("localhost", host, DEFAULT_HOST))))
    secret_file = lab_dir / "secrets" / "client-secret"
    ready = gdir / "ready.json"
    ready.unlink(missing_ok=True)
    logf = open(gdir / "emulator.log", "ab")  # noqa: SIM115 - handed to the child
    cmd = [sys.executable, "-m", EMULATOR_MODULE, "--host", host,
           "--port", str(state.get("graph_port", 0)), "--cert", str(cert.cert), "--key", str(cert.key),
           "--tenant-id", state["tenant_id"], "--client-id", state["client_id"],
           "--client-secret-file", str(secret_file), "--domain", "contoso.com",
           "--domain", "contoso.onmicrosoft.com", "--ready-file", str(ready)]
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ready.exists():
            info = json.loads(ready.read_text())
            state["graph_pid"], state["graph_url"] = proc.pid, info["url"]
            state["graph_port"] = int(info["url"].rsplit(":", 1)[1])
            log(f"Graph emulator listening on {info['url']} (pid {proc.pid})")
            return
        if proc.poll() is not None:
            if state.get("graph_port"):
                state["graph_port"] = 0  # the old port is taken: take any free one
                return _start_emulator(lab_dir, state, ca, log)
            raise LabError(f"the Graph emulator exited with code {proc.returncode}; see {gdir / 'emulator.log'}")
        time.sleep(0.05)
    proc.terminate()
    raise LabError(f"the Graph emulator did not start within 20 s; see {gdir / 'emulator.log'}")


def write_config(lab_dir: Path, state: dict[str, Any], info: Any) -> Path:
    """The configuration a new user would write for this lab (see `pybridge config example`)."""
    base_dn = info.base_dn
    cfg = {
        "version": 1,
        "ad_connectors": [{
            "name": info.realm.lower(),
            "servers": [info.ldaps_url, info.starttls_url],
            "tls": {"validate": True, "ca_file": str(info.ca_file)},
            "account": {"username": info.connector_username, "password_file": str(info.connector_password_file)},
            "partitions": [base_dn],
            "containers": {"include": [f"OU=Corp,{base_dn}"], "exclude": [f"OU=Excluded,OU=Corp,{base_dn}"]},
            "object_types": ["user", "inetOrgPerson", "group", "contact"],
        }],
        "entra": {
            "name": "contoso.onmicrosoft.com - AAD",
            "tenant_id": state["tenant_id"], "client_id": state["client_id"],
            "client_secret_file": str(lab_dir / "secrets" / "client-secret"),
            "authority_host": state["graph_url"], "graph_endpoint": state["graph_url"],
            "ca_file": str(lab_dir / "ca" / "ca.pem"),
        },
        "sync": {"source_anchor": "mS-DS-ConsistencyGuid", "soft_match": True, "staging_mode": False},
        "state": {"path": str(lab_dir / "state" / "pybridge.db")},
        "report": {"directory": str(lab_dir / "reports")},
    }
    path = lab_dir / "pybridge.yaml"
    path.write_text("# Written by `pybridge lab up`; `pybridge config example` prints every key, documented.\n"
                    + yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def up(lab_dir: Path, log: Log = lambda m: None, host: str = DEFAULT_HOST) -> dict[str, Any]:
    from .samba import SambaDC, check_prerequisites

    check_prerequisites()
    platform.make_private_dir(lab_dir)
    platform.make_private_dir(lab_dir / "secrets")
    state = _load(lab_dir)
    if state.get("host") and state["host"] != host and (state.get("graph_pid") or state.get("samba_pid")):
        raise LabError(f"the lab in {lab_dir} runs on {state['host']}; run 'pybridge lab down' first")
    state["host"] = host
    state.setdefault("tenant_id", str(uuid.uuid4()))
    state.setdefault("client_id", str(uuid.uuid4()))
    secret_file = lab_dir / "secrets" / "client-secret"
    if not secret_file.exists():
        import secrets
        with platform.open_private(secret_file) as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    ca = create_ca(lab_dir / "ca")
    dc = SambaDC(lab_dir / "samba", ca=ca, host=host)
    if not dc.is_provisioned():
        log("provisioning the Samba AD DC (CONTOSO.COM) ...")
    dc.provision()
    if not dc.is_running():
        log(f"starting the Samba AD DC on {host} (LDAPS 636, StartTLS 389) ...")
        info = dc.start()
    else:
        info = dc.info()
    state["samba_pid"] = info.pid
    state["samples"] = dc.seed()
    if not _alive(state.get("graph_pid")):
        _start_emulator(lab_dir, state, ca, log)
    state["config"] = str(write_config(lab_dir, state, info))
    _save(lab_dir, state)
    return state


def status(lab_dir: Path) -> dict[str, str]:
    state = _load(lab_dir)
    if not state:
        return {"lab": f"no lab in {lab_dir} (run: pybridge lab up)"}
    from .samba import SambaDC
    ca_dir = lab_dir / "ca"
    samba_running = False
    if (ca_dir / "ca.pem").exists():
        from .ca import CertPair
        samba_running = SambaDC(lab_dir / "samba", ca=CertPair(ca_dir / "ca.pem", ca_dir / "ca.key"),
                                host=state.get("host", DEFAULT_HOST)).is_running()
    from .cli import SAMPLES
    seeded = state.get("samples") or {}
    return {"lab": str(lab_dir),
            "host": state.get("host", DEFAULT_HOST),
            "samba": "running" if samba_running else "stopped",
            "graph": "running" if _alive(state.get("graph_pid")) else "stopped",
            "graph_url": state.get("graph_url", ""),
            "config": state.get("config", ""),
            # what `lab up --sync KEY` takes, in the order `lab --help` lists them
            "samples": {key: seeded[key] for key in SAMPLES if key in seeded}}


def down(lab_dir: Path, log: Log = lambda m: None) -> None:
    state = _load(lab_dir)
    if not state:
        log(f"no lab in {lab_dir}; nothing to stop")
        return
    pid = state.get("graph_pid")
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        log(f"stopped the Graph emulator (pid {pid})")
    state["graph_pid"] = None
    ca_dir = lab_dir / "ca"
    if (ca_dir / "ca.pem").exists():
        from .ca import CertPair
        from .samba import SambaDC
        dc = SambaDC(lab_dir / "samba", ca=CertPair(ca_dir / "ca.pem", ca_dir / "ca.key"),
                     host=state.get("host", DEFAULT_HOST))
        if dc.is_running():
            dc.stop()
            log("stopped the Samba AD DC")
    state["samba_pid"] = None
    _save(lab_dir, state)
