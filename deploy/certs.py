"""A private CA and the certificates Temporal's mutual TLS needs, for the compose stack and tests.

    python -m deploy.certs DIR [--host temporal --host localhost ...] [--key-mode 644]

Writes into DIR: `ca.pem` (the CA certificate; its key is never written, so nothing more can be
signed with it), `server.pem` + `server.key` (the Temporal server: frontend and internode) and
`client.pem` + `client.key` (the services, the UI and the admin tools). A DIR that already holds
`ca.pem` is left as it is: certificates are issued once, and removing DIR issues new ones.

A real deployment brings certificates from its own PKI; these are for the production-shaped stack.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The compose service name first (what the services dial), then what a host-side client dials.
DEFAULT_HOSTS = ("temporal", "localhost", "127.0.0.1")
VALID_DAYS = 825


@dataclass(frozen=True)
class CertFiles:
    """Where each file of an issued set lives."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def under(cls, directory: Path) -> CertFiles:
        return cls(
            ca=directory / "ca.pem",
            server_cert=directory / "server.pem",
            server_key=directory / "server.key",
            client_cert=directory / "client.pem",
            client_key=directory / "client.key",
        )


def issue(
    directory: Path, hosts: Sequence[str] = DEFAULT_HOSTS, *, key_mode: int = 0o600
) -> CertFiles:
    """Issue a CA, a server certificate for `hosts` and a client certificate into `directory`,
    unless it holds a CA already. `key_mode` is the private keys' file mode."""
    files = CertFiles.under(directory)
    if files.ca.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "IME Claims private CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    # The server certificate serves clients and, inside the Temporal cluster, is also the client
    # certificate one service presents to another (internode): it carries both usages.
    server_key, server_cert = _leaf(
        ca_key,
        ca_cert,
        hosts[0],
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        x509.SubjectAlternativeName([_general_name(h) for h in hosts]),
    )
    client_key, client_cert = _leaf(
        ca_key, ca_cert, "ime-claims", [ExtendedKeyUsageOID.CLIENT_AUTH], None
    )
    # Keys first and the CA last: a run cut short leaves no `ca.pem`, so the next run reissues.
    _write(files.server_key, _private_pem(server_key), key_mode)
    _write(files.client_key, _private_pem(client_key), key_mode)
    _write(files.server_cert, _cert_pem(server_cert), 0o644)
    _write(files.client_cert, _cert_pem(client_cert), 0o644)
    _write(files.ca, _cert_pem(ca_cert), 0o644)
    return files


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # An hour back, so a clock a little behind still accepts a certificate issued just now.
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    usages: list[x509.ObjectIdentifier],
    names: x509.SubjectAlternativeName | None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names is not None:
        builder = builder.add_extension(names, critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8: what the Temporal server (Go), the UI and the SDK (rustls) all read.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)  # the umask may have narrowed the mode given to open


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.certs", description="Issue a private CA and Temporal's certificates."
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--host",
        action="append",
        dest="hosts",
        help=f"a name or IP the server certificate covers (repeatable; default: {DEFAULT_HOSTS})",
    )
    parser.add_argument(
        "--key-mode",
        default="600",
        help="octal file mode of the private keys (644 when services running as different users "
        "read one volume)",
    )
    args = parser.parse_args(argv)
    existed = (args.directory / "ca.pem").exists()
    files = issue(args.directory, args.hosts or DEFAULT_HOSTS, key_mode=int(args.key_mode, 8))
    verb = "kept the certificates in" if existed else "issued certificates into"
    print(f"{verb} {files.ca.parent}")


if __name__ == "__main__":
    main()
