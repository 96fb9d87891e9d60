"""Federation, transport trust: each node's own certificate authority and its link certificate.

Records between nodes are signed end to end (``services.federation.outbound``); the links themselves
use mutual TLS.  ``mfc federation certs NODE --out DIR`` makes, once per node:

* ``ca.pem`` and ``ca.key``: the node's certificate authority (ECDSA P-256, ten years).  The CA
  certificate is what the node gives its partners; the key stays home (mode 0600).
* ``node.pem``: the node's link identity (mode 0600): its PKCS#8 private key, its certificate
  (subject ``CN=<node>``, for both server and client authentication, with the given host names
  and addresses, one year) and the CA certificate, in the one-file PEM form a Kafka broker and
  MirrorMaker 2 read (``ssl.keystore.type=PEM``) and Python's ``ssl`` loads.
* ``partners/``: where the admin puts each partner's ``ca.pem`` as ``<partner>.pem``.

On the broker (``scripts/kafka-dev`` with ``MFC_KAFKA_FEDERATION``) each partner has its own
TLS listener that trusts only that partner's CA and maps every certificate it accepts to the
principal ``User:<partner>``: a certificate another partner's CA issued cannot pass for it,
whatever its subject says.  What that principal may read is granted by the node's agreements
(``services.federation.outbound.BrokerAccess``).  Running it again with an existing CA keeps the CA and
issues a new node certificate (e.g. for new host names, or after the old one was compromised).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS, NODE_DAYS = 3650, 365


def _write(path: Path, data: bytes, private: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_certs(node: str, out: Path, hosts: list[str], now: dt.datetime | None = None) -> dict[str, Path]:
    """Make (or keep) ``node``'s CA in ``out`` and issue its link certificate for ``hosts``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    out.mkdir(parents=True, exist_ok=True)
    (out / "partners").mkdir(exist_ok=True)
    ca_pem, ca_key_pem = out / "ca.pem", out / "ca.key"
    if ca_pem.exists() and ca_key_pem.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_pem.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_pem.read_bytes(), password=None)
        owner = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        if owner != node:
            raise ValueError(f"{ca_pem} is node {owner}'s CA, not {node}'s: give {node} a directory of its own")
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, node),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"{node} federation CA")])
        ca_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        _write(ca_key_pem, _pem_key(ca_key), private=True)
        _write(ca_pem, ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, node),
                                        x509.NameAttribute(NameOID.COMMON_NAME, node)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(min(now + dt.timedelta(days=NODE_DAYS), ca_cert.not_valid_after_utc))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                            crl_sign=False, content_commitment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                     ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_san(hosts)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    bundle = (_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM)
              + ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(out / "node.pem", bundle, private=True)
    return {"ca": ca_pem, "ca_key": ca_key_pem, "node": out / "node.pem", "partners": out / "partners"}
