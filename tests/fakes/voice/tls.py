"""A throwaway certificate authority and a leaf for 127.0.0.1, made with the `openssl` command for one test run.

discord.py always dials the voice gateway over `wss://`, through its aiohttp session, whose default TLS context
verifies against the system's trust store. A test trusts the throwaway CA in that context (`trust_in_process`), or
gives a child process `SSL_CERT_FILE=<ca.pem>`; Encore itself has no test-only setting.
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiohttp.connector

_CA_EXTENSIONS = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
_LEAF_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
)


@dataclass(frozen=True)
class TestCertificates:
    """The CA (what clients trust) and the server's leaf certificate and key."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def trust_in_process(self) -> None:
        """Add the CA to the verifying context aiohttp made at import, which every discord.py session uses."""
        aiohttp.connector._SSL_CONTEXT_VERIFIED.load_verify_locations(cafile=str(self.ca))


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> TestCertificates:
    """A CA and a leaf for `IP:127.0.0.1` signed by it, valid for a day, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.ext").write_text(_CA_EXTENSIONS)
    (folder / "leaf.ext").write_text(_LEAF_EXTENSIONS)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=folder)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "leaf.key", cwd=folder)
    _openssl("req", "-new", "-key", "ca.key", "-subj", "/CN=Encore test CA", "-out", "ca.csr", cwd=folder)
    _openssl(
        "x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-days", "1", "-extfile", "ca.ext", "-out", "ca.pem",
        cwd=folder,
    )  # fmt: skip
    _openssl("req", "-new", "-key", "leaf.key", "-subj", "/CN=127.0.0.1", "-out", "leaf.csr", cwd=folder)
    _openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "leaf.ext", "-out", "leaf.pem",
        cwd=folder,
    )  # fmt: skip
    return TestCertificates(ca=folder / "ca.pem", cert=folder / "leaf.pem", key=folder / "leaf.key")
