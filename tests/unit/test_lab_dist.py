"""The lab is its own distribution (pybridge-lab): nothing of it in the product's wheel, nothing of it (or of
PyJWT, which only the lab needs) imported by the product, and `pybridge lab` a plugin that is found when
installed, looked up only when needed, and named with the way to install it when missing.

psrpcore is the one library both need: the lab reads the PSRP its WinRM endpoint forwards, and the product
speaks PSRP over SSH with it (`--transport ssh`). It is a dependency of the product on purpose, imported only
by the SSH transport, when a server is reached over SSH: never at startup."""
from __future__ import annotations

import importlib.metadata
import io
import re
import shutil
import subprocess
import sys
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pybridge
from pybridge.cli import main
from tests.support import missing_prerequisite

ROOT = Path(__file__).resolve().parents[2]
LAB_ONLY = ("pybridge_lab", "jwt")
SSH_ONLY = ("psrpcore",)  # the product's, but only for --transport ssh
# Run before the code under test: any import of the lab, psrpcore or PyJWT fails as if they were not installed.
BLOCK = f"""
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {LAB_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _NotInstalled())
"""


def python(code: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_the_product_wheel_holds_no_lab_module(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in ("pybridge", "pybridge-lab"):  # the lab beside the product, as in the repository
        shutil.copytree(ROOT / name, src / name, ignore=junk)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "out"),
                            str(src)], capture_output=True, text=True, timeout=600)
    if built.returncode != 0 and re.search(r"(Could not find a version|No matching distribution).*setuptools",
                                           built.stderr):
        missing_prerequisite(f"pip cannot get setuptools to build the wheel: {built.stderr.strip()[-300:]}")
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "out").glob("pybridge-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "pybridge/cli.py" in names and "pybridge/remote/scripts/Read-PyBridgeReport.ps1" in names
    assert [n for n in names if n.startswith(("pybridge_lab/", "pybridge/lab/")) or "/lab/" in n] == []
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if re.search(r"pyjwt|pybridge-lab", r, re.I)]
    assert [r for r in requires if re.search(r"^Requires-Dist: psrpcore\b", r)], requires  # for --transport ssh


def test_the_product_imports_no_lab_module_and_starts_without_them():
    code = BLOCK + """
import pybridge.cli, pybridge.engine, pybridge.config, pybridge.remote.cli, pybridge.remote.runner
print(sorted(m for m in sys.modules if m.split(".")[0] in %r))
""" % (LAB_ONLY + SSH_ONLY,)
    imported = python(code)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "[]"
    for args in (["--help"], ["sync", "--help"], ["--version"]):
        r = python(BLOCK + "from pybridge.cli import main\nraise SystemExit(main(sys.argv[1:]))", *args)
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.startswith(("usage: pybridge", "pybridge ")), r.stdout
    top = python(BLOCK + "from pybridge.cli import main\nraise SystemExit(main(['--help']))")
    assert re.search(r"not installed:\n  lab +from pybridge-lab: pip install \./pybridge-lab", top.stdout)


def test_the_product_source_names_none_of_the_lab_s_needs():
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in sorted((ROOT / "pybridge").rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"import jwt|/proc\b|pybridge_lab|LabError", line)
                 or re.search(r"^\s*(from|import) psrpcore", line) and path.name not in ("outofproc.py", "ssh.py")]
    assert offenders == []
    assert not (ROOT / "pybridge" / "lab").exists()


def test_pybridge_lab_without_the_lab_says_how_to_install_it():
    for args in (["lab", "--help"], ["lab", "up", "--sync"], ["-v", "lab", "status"]):
        r = python(BLOCK + "from pybridge.cli import main\nraise SystemExit(main(sys.argv[1:]))", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("pybridge: error: 'pybridge lab' needs pybridge-lab")
        assert "pip install ./pybridge-lab" in lines[0] and "Traceback" not in r.stderr


def test_pybridge_lab_when_no_distribution_declares_it(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [])
    code, out, err = run("lab", "--dir", "x", "up")
    assert (code, out) == (2, "")
    assert err == ("pybridge: error: 'pybridge lab' needs pybridge-lab, which is not installed: "
                   "pip install ./pybridge-lab (scripts/setup installs it)\n")
    code, _, err = run("frobnicate")  # an unknown command stays argparse's usage error
    assert code == 2 and "invalid choice: 'frobnicate'" in err


def test_built_in_commands_never_look_for_plugins(monkeypatch):
    calls: list[object] = []

    def entry_points(**kw):  # type: ignore[no-untyped-def]
        calls.append(kw)
        return []
    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    example = str(ROOT / "config" / "pybridge.example.yaml")
    for args in (["rules", "list", "--config", example], ["-v", "sync", "--help"], ["--version"], ["history"]):
        run(*args)
    assert calls == []
    run("--help")
    run("lab", "--help")
    assert calls == [{"group": "pybridge.commands"}] * 2


def test_the_lab_declares_its_plugin_its_command_and_its_needs():
    dist = importlib.metadata.distribution("pybridge-lab")
    eps = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert eps[("pybridge.commands", "lab")] == "pybridge_lab.cli:register"
    assert eps[("console_scripts", "pybridge-lab")] == "pybridge_lab.cli:main"
    requires = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower() for r in dist.requires or []}
    assert {"pybridge", "psrpcore", "pyspnego", "pyjwt", "cryptography", "ldap3", "pyyaml"} <= requires
    # the lab drives pybridge's internals: always the same version, and it says so
    text = (ROOT / "pybridge-lab" / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"pybridge=={pybridge.__version__}"' in text
    import pybridge_lab
    assert pybridge_lab.__version__ == pybridge.__version__ == dist.version


def test_pybridge_lab_status_through_the_plugin_and_the_lab_s_own_command(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    expected = f"lab: no lab in {empty} (run: pybridge lab up)\n"
    script = Path(sys.executable).with_name("pybridge-lab")
    lab_command = [str(script)] if script.exists() else [sys.executable, "-m", "pybridge_lab"]
    for argv in ([sys.executable, "-m", "pybridge", "lab", "status", "--dir", str(empty)],
                 [sys.executable, "-m", "pybridge", "lab", "--dir", str(empty), "status"],
                 [*lab_command, "status", "--dir", str(empty)],
                 [*lab_command, "--dir", str(empty), "status"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert (r.returncode, r.stdout) == (1, expected), (argv, r.stderr)  # 1: nothing runs
    down = subprocess.run([*lab_command, "down", "--dir", str(empty)], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and down.stderr == f"pybridge-lab: no lab in {empty}; nothing to stop\n"
    code, out, _ = run("lab", "--help")
    assert code == 0 and out.startswith("usage: pybridge lab") and "status" in out
    code, out, _ = run("--help")
    assert re.search(r"^    lab +the local lab", out, re.M) and "not installed" not in out
