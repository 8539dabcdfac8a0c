"""A small certificate authority for the local stack: one CA under the run dir (`.run/ca`), made once
and reused by every component that serves TLS locally (Mosquitto; Kafka's listeners can take the same
files: PEM certificates, PKCS#8 keys) and by the clients and tests that verify them.

Development only: the CA key is a file on disk (mode 0600), never a production trust root. ECDSA P-256
keys (OpenSSL, Java and Python all take them); server certificates name their hosts in the
subjectAltName (hostname verification stays on); client certificates carry the clientAuth usage (mTLS).
An issued certificate is reused while it is signed by this CA, names the same hosts and has more than
30 days left; otherwise it is issued again. Creation is serialised with a lock file, so concurrent
starts (tests, `make stack-up`) make one CA.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import ipaddress
import os
import pathlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=30)


@dataclasses.dataclass(frozen=True)
class Issued:
    """A certificate (PEM) and its private key (PKCS#8 PEM, mode 0600)."""

    cert: pathlib.Path
    key: pathlib.Path


class LocalCA:
    def __init__(self, directory: pathlib.Path, name: str = "EPD local development CA") -> None:
        self.directory, self.name = directory, name

    @property
    def cert_file(self) -> pathlib.Path:
        return self.directory / "ca.pem"

    @property
    def key_file(self) -> pathlib.Path:
        return self.directory / "ca.key"

    def ensure(self) -> LocalCA:
        """Create the CA if it does not exist yet (idempotent, safe across processes)."""
        with self._locked():
            if not (self.cert_file.exists() and self.key_file.exists()):
                key = ec.generate_private_key(ec.SECP256R1())
                subject = _name(self.name)
                now = _now()
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(subject)
                    .issuer_name(subject)
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(minutes=5))
                    .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(
                        x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
                    )
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .sign(key, hashes.SHA256())
                )
                _write_key(self.key_file, key)
                self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return self

    def issue_server(self, out_dir: pathlib.Path, name: str, hosts: Sequence[str]) -> Issued:
        """A TLS server certificate for `hosts` (DNS names or IP addresses) at out_dir/name.{pem,key}."""
        return self._issue(out_dir, name, tuple(hosts), ExtendedKeyUsageOID.SERVER_AUTH)

    def issue_client(self, out_dir: pathlib.Path, name: str) -> Issued:
        """A TLS client certificate (mTLS) whose subject common name is `name`."""
        return self._issue(out_dir, name, (), ExtendedKeyUsageOID.CLIENT_AUTH)

    def _issue(self, out_dir: pathlib.Path, name: str, hosts: tuple[str, ...], usage: x509.ObjectIdentifier) -> Issued:
        self.ensure()
        out = Issued(out_dir / f"{name}.pem", out_dir / f"{name}.key")
        ca_cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        with self._locked():
            if self._reusable(out, ca_cert, hosts, usage):
                return out
            ca_key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
            assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
            key = ec.generate_private_key(ec.SECP256R1())
            now = _now()
            builder = (
                x509.CertificateBuilder()
                .subject_name(_name(name))
                .issuer_name(ca_cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            )
            if hosts:
                builder = builder.add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
            cert = builder.sign(ca_key, hashes.SHA256())
            out_dir.mkdir(parents=True, exist_ok=True)
            _write_key(out.key, key)
            out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return out

    @staticmethod
    def _reusable(out: Issued, ca_cert: x509.Certificate, hosts: tuple[str, ...], usage: x509.ObjectIdentifier) -> bool:
        if not (out.cert.exists() and out.key.exists()):
            return False
        try:
            cert = x509.load_pem_x509_certificate(out.cert.read_bytes())
            cert.verify_directly_issued_by(ca_cert)
            named = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value if hosts else None
            usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            return False
        return (
            cert.not_valid_after_utc - _now() > RENEW_BEFORE
            and usage in usages
            and (named is None or set(named) == set(_sans(hosts)))
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EPD local"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for host in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def _write_key(path: pathlib.Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, path)
