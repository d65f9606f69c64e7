"""What an SSH signature says about itself: the public key that made it and the namespace it was made for.

An armored ``-----BEGIN SSH SIGNATURE-----`` block is OpenSSH's SSHSIG format (PROTOCOL.sshsig): the magic
``SSHSIG``, a version, then length-prefixed strings: public key, namespace, reserved, hash algorithm, signature.
Reading the key and namespace needs no cryptography; whether the signature is good is ``ssh-keygen``'s to say.

>>> sig = read_signature(armored)  # doctest: +SKIP
>>> sig.namespace, sig.fingerprint  # doctest: +SKIP
('itpm-approval', 'SHA256:q8p...')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

__all__ = ["BEGIN", "END", "MalformedSignature", "SignatureInfo", "fingerprint_of", "read_signature"]

BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
_MAGIC = b"SSHSIG"


class MalformedSignature(ValueError):
    """Text that is not an armored SSH signature."""


@dataclass(frozen=True)
class SignatureInfo:
    """The key blob (as in an ``authorized_keys`` line, decoded) and namespace a signature names."""

    key_type: str
    key_blob: bytes
    namespace: str

    @property
    def fingerprint(self) -> str:
        """Return the key's fingerprint as ``ssh-keygen -l`` prints it: ``'SHA256:q8p...'``."""
        return fingerprint_of(self.key_blob)


def fingerprint_of(key_blob: bytes) -> str:
    """Return OpenSSH's SHA256 fingerprint of a public key blob."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")


def _strings(data: bytes, offset: int, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        if offset + 4 > len(data):
            raise MalformedSignature("the signature ends early")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        offset += 4
        if offset + length > len(data):
            raise MalformedSignature("the signature ends early")
        out.append(data[offset : offset + length])
        offset += length
    return out


def read_signature(armored: str) -> SignatureInfo:
    """Return the key and namespace of an armored SSH signature; raise MalformedSignature if it is not one."""
    text = armored.strip()
    if not (text.startswith(BEGIN) and text.endswith(END)):
        raise MalformedSignature(f"an SSH signature starts with {BEGIN} and ends with {END}")
    body = "".join(text[len(BEGIN) : -len(END)].split())
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignature("the signature's body is not base64") from None
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
        raise MalformedSignature("not an SSHSIG signature")
    key_blob, namespace = _strings(data, len(_MAGIC) + 4, 2)
    (key_type,) = _strings(key_blob, 0, 1)
    try:
        return SignatureInfo(key_type.decode("ascii"), key_blob, namespace.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedSignature("the signature's key type or namespace is not text") from None
