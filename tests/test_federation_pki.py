"""``mfc federation certs``: a node's own CA and link certificate, checked with OpenSSL (the
``openssl`` command and Python's ``ssl``), not with the code that made them."""

from __future__ import annotations

import os
import shutil
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest

MFC = [sys.executable, "-m", "mfc"]


def certs(node: str, out: Path, *hosts: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MFC, "federation", "certs", node, "--out", str(out), *(a for h in hosts for a in ("--host", h))],
                          capture_output=True, text=True, timeout=60)


def openssl(*args: str) -> str:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_nodes_ca_issues_its_link_certificate_for_its_hosts_and_keeps_its_key_private(tmp_path):
    done = certs("SG-IFC", tmp_path / "sg", "kafka.sg.example", "10.1.2.3")
    assert done.returncode == 0, done.stderr
    node, ca = tmp_path / "sg" / "node.pem", tmp_path / "sg" / "ca.pem"
    assert "OK" in openssl("verify", "-CAfile", str(ca), str(node))
    text = openssl("x509", "-in", str(node), "-noout", "-subject", "-ext", "subjectAltName,extendedKeyUsage")
    assert "CN = SG-IFC" in text or "CN=SG-IFC" in text
    assert "DNS:kafka.sg.example" in text and "IP Address:10.1.2.3" in text
    assert "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text
    ssl.create_default_context().load_cert_chain(str(node))  # its key is the certificate's
    for private in (node, tmp_path / "sg" / "ca.key"):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600, private
    assert (tmp_path / "sg" / "partners").is_dir()

    # again: the same CA (partners keep trusting it), a new link certificate
    before_ca, before_node = ca.read_bytes(), node.read_bytes()
    assert certs("SG-IFC", tmp_path / "sg", "kafka.sg.example").returncode == 0
    assert ca.read_bytes() == before_ca and node.read_bytes() != before_node
    assert "OK" in openssl("verify", "-CAfile", str(ca), str(node))


def test_a_node_cannot_take_over_another_nodes_ca(tmp_path):
    assert certs("PH-CG", tmp_path / "ph").returncode == 0
    done = certs("VN-MFC", tmp_path / "ph")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "PH-CG's CA, not VN-MFC's" in done.stderr
    assert "VN-MFC" not in openssl("x509", "-in", str(tmp_path / "ph" / "node.pem"), "-noout", "-subject")
