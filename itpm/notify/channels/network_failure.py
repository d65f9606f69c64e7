"""What a failed connection means, in the words a person reads (not an errno or a Python exception name)."""

from __future__ import annotations

import socket
import ssl

__all__ = ["explain_network_failure"]


# One answer per kind of failure, in the order of specificity (SSLError and TimeoutError are OSErrors too).
def explain_network_failure(error: OSError, *, timeout_s: float) -> str:  # noqa: PLR0911
    """Return what went wrong on the network: ``'connection refused'``, ``'no answer within 10 s'``, ..."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its TLS certificate was not accepted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return f"no answer within {timeout_s:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (nothing listens there, or a firewall rejects it)"
    if isinstance(error, ConnectionResetError):
        return "the connection was reset"
    if isinstance(error, socket.gaierror):
        return f"the host name does not resolve ({error.strerror})"
    return error.strerror or str(error) or type(error).__name__
