"""A records office's SM2 key pair and certificate, made with the openssl command line.

Independent of our PKI code: the archive tests encrypt to a certificate we did
not build, and decrypt with tools that are not ours.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from asn1crypto import keys


def make_records_office(folder: Path, *, key_usage: str = "keyEncipherment,dataEncipherment",
                        algorithm: str = "SM2") -> tuple[Path, Path]:
    """(certificate PEM, private key PEM) of a self-signed records office certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = folder / "records-office-key.pem", folder / "records-office-cert.pem"
    gen = ["openssl", "genpkey", "-algorithm", algorithm, "-out", str(key)]
    if algorithm == "RSA":
        gen += ["-pkeyopt", "rsa_keygen_bits:2048"]
    subprocess.run(gen, check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key),
                    "-sm3" if algorithm == "SM2" else "-sha256",
                    "-subj", "/C=CN/O=Records Office/CN=档案馆 records office", "-utf8",
                    "-days", "30", "-addext", f"keyUsage=critical,{key_usage}",
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def private_scalar_hex(key_pem: Path) -> str:
    """The SM2 private scalar as 64 hex digits (for gmssl), read with asn1crypto."""
    der = subprocess.run(["openssl", "pkey", "-in", str(key_pem), "-outform", "DER"],
                         check=True, capture_output=True, timeout=60).stdout
    try:  # PKCS#8, or SEC1 as some OpenSSL versions write EC keys
        scalar = keys.PrivateKeyInfo.load(der)["private_key"].parsed["private_key"].native
    except ValueError:
        scalar = keys.ECPrivateKey.load(der)["private_key"].native
    return f"{scalar:064x}"
