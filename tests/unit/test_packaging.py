"""Package hygiene: a licence file and SPDX metadata, one version for the package, `--version`, the PowerShell
manifest and the lab, a changelog, and builds that print no deprecation warning."""
from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pybridge
from tests.support import missing_prerequisite

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
VERSION = pybridge.__version__


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_version_is_one_pep_440_release_string():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", VERSION)


@pytest.mark.parametrize("pyproject, attr", [("pyproject.toml", "pybridge.__version__"),
                                             ("pybridge-lab/pyproject.toml", "pybridge_lab.__version__")])
def test_pyproject_reads_the_version_from_the_package_and_declares_an_spdx_licence(pyproject, attr):
    data = project(ROOT / pyproject)
    meta = data["project"]
    assert "version" not in meta and meta["dynamic"] == ["version"]
    assert data["tool"]["setuptools"]["dynamic"]["version"] == {"attr": attr}
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert (ROOT / pyproject).parent.joinpath("LICENSE").is_file()
    assert meta["authors"] and meta["description"] and meta["readme"] == "README.md"
    classifiers = meta["classifiers"]
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression says it
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    minimum = re.fullmatch(r">=3\.(\d+)", meta["requires-python"]).group(1)  # type: ignore[union-attr]
    assert f"Programming Language :: Python :: 3.{minimum}" in classifiers
    assert int(re.search(r"setuptools>=(\d+)", " ".join(data["build-system"]["requires"])).group(1)) >= 77
    # no URL that is not the project's own: there is no public home to point to yet
    assert "urls" not in meta


def test_the_licence_is_mit_and_the_lab_ships_the_same_text():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in text
    assert re.search(r"^Copyright \(c\) \d{4} pybridge contributors$", text, re.M)
    assert (ROOT / "pybridge-lab" / "LICENSE").read_text(encoding="utf-8") == text


def test_installed_metadata_version_and_command_agree():
    assert importlib.metadata.version("pybridge") == VERSION
    assert importlib.metadata.metadata("pybridge")["License-Expression"] == "MIT"
    out = subprocess.run([sys.executable, "-m", "pybridge", "--version"], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, f"pybridge {VERSION}\n")


def test_the_powershell_manifest_and_the_lab_follow_the_package_version():
    psd1 = (ROOT / "psmodule" / "ADSyncDiagnostics" / "ADSyncDiagnostics.psd1").read_text(encoding="utf-8-sig")
    assert re.findall(r"^\s*ModuleVersion\s*=\s*'([^']*)'", psd1, re.M) == [VERSION]
    lab = project(ROOT / "pybridge-lab" / "pyproject.toml")["project"]
    pins = [d for d in lab["dependencies"] if re.match(r"pybridge\b(?!-)", d)]
    assert pins == [f"pybridge=={VERSION}"]
    init = (ROOT / "pybridge-lab" / "pybridge_lab" / "__init__.py").read_text(encoding="utf-8")
    assert re.findall(r'^__version__ = "([^"]+)"', init, re.M) == [VERSION]


def test_the_changelog_keeps_a_changelog_and_names_this_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n") and "keepachangelog.com" in text and "semver.org" in text
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\S+))?$", text, re.M)
    assert headings and headings[0][0] == "Unreleased"
    assert VERSION in text.split("\n## ", 2)[1]  # the unreleased section says which version it becomes
    for name, date in headings[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", name) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date or "")
    sections = set(re.findall(r"^### (\w+)$", text, re.M))
    assert sections and sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_both_distributions_build_without_deprecation_warnings(tmp_path):
    src = tmp_path / "src"
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    src.mkdir()
    for name in ("pybridge", "pybridge-lab"):
        shutil.copytree(ROOT / name, src / name, ignore=junk)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "out"),
                            str(src), str(src / "pybridge-lab")], capture_output=True, text=True, timeout=900)
    output = built.stdout + built.stderr
    if built.returncode != 0 and re.search(r"(Could not find a version|No matching distribution).*setuptools", output):
        missing_prerequisite(f"pip cannot get setuptools to build the wheels: {output.strip()[-300:]}")
    assert built.returncode == 0, output[-4000:]
    warned = [line for line in output.splitlines() if re.search(r"deprecat", line, re.I)]
    assert warned == [], "\n".join(warned)
    for dist, requires in (("pybridge", None), ("pybridge_lab", f"pybridge=={VERSION}")):
        [wheel] = (tmp_path / "out").glob(f"{dist}-*.whl")
        assert wheel.name.startswith(f"{dist}-{VERSION}-")
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        assert f"\nVersion: {VERSION}\n" in metadata
        assert "\nLicense-Expression: MIT\n" in metadata and "\nLicense-File: LICENSE\n" in metadata
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
        assert "\nAuthor: pybridge contributors\n" in metadata or "\nAuthor-email:" in metadata
        if requires:
            assert f"\nRequires-Dist: {requires}\n" in metadata
