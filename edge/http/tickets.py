"""Session-ticket keys shared by a node's workers, rotated on a schedule.

A resumed TLS session skips the key exchange and the certificate signature: the client shows a
ticket the server sealed earlier. Each worker is its own process with its own OpenSSL context,
and a client's next connection may land on any of them, so every worker must seal and open
tickets with the same key (nginx's `ssl_session_ticket_key`). No message is needed for that:
each key is derived from a secret the node's workers share (the supervisor makes one at start
and hands it to every worker with the configuration) and the number of the current period, so
every worker arrives at the same key at the same moment, and a reload keeps it.

Python's ssl module has no call for the ticket key. OpenSSL's `SSL_CTX_ctrl(ctx,
SSL_CTRL_SET_TLSEXT_TICKET_KEYS, 80, key)` sets it (16 bytes of name, 32 of HMAC key, 32 of AES
key), and the `SSL_CTX *` sits right after the object header of a Python `SSLContext`
(CPython's `PySSLContext`). `install` checks what it set by reading it back and says False
where that cannot work; the contexts then keep OpenSSL's own random key per process (tickets
resume only on the worker that issued them).
"""

from __future__ import annotations

import ctypes
import hmac
import logging
import ssl

log = logging.getLogger("edge.tls")

KEY_BYTES = 80  # name 16 + HMAC-SHA256 key 32 + AES-256 key 32, as nginx's 80-byte key files
SSL_CTRL_GET_TLSEXT_TICKET_KEYS = 58
SSL_CTRL_SET_TLSEXT_TICKET_KEYS = 59


def period_of(now: float, rotate_s: float) -> int:
    return int(now // rotate_s)


def seconds_to_next(now: float, rotate_s: float) -> float:
    return (period_of(now, rotate_s) + 1) * rotate_s - now


def ticket_key(secret: bytes, period: int) -> bytes:
    """The 80-byte key of `period`: the same in every process holding `secret`."""
    label = b"classcast session ticket key %d" % period
    material = hmac.digest(secret, label + b" a", "sha512") + hmac.digest(secret, label, "sha256")
    return material[:KEY_BYTES]


class _OpenSSL:
    def __init__(self) -> None:
        library = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]  # libssl with it
        self.ctrl = library.SSL_CTX_ctrl
        self.ctrl.restype = ctypes.c_long
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]


_openssl: _OpenSSL | None = None
_unavailable = ""


def _library() -> _OpenSSL | None:
    global _openssl, _unavailable
    if _openssl is None and not _unavailable:
        try:
            _openssl = _OpenSSL()
        except (OSError, AttributeError) as exc:
            _unavailable = str(exc)
            log.warning("session tickets stay per worker", extra={"error": _unavailable})
    return _openssl


def install(context: ssl.SSLContext, key: bytes) -> bool:
    """Seal and open this context's tickets with `key`; False where that is not possible."""
    openssl = _library()
    if openssl is None or len(key) != KEY_BYTES:
        return False
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        return False
    given = ctypes.create_string_buffer(key, KEY_BYTES)
    if openssl.ctrl(pointer, SSL_CTRL_SET_TLSEXT_TICKET_KEYS, KEY_BYTES, given) != 1:
        return False
    check = ctypes.create_string_buffer(KEY_BYTES)
    openssl.ctrl(pointer, SSL_CTRL_GET_TLSEXT_TICKET_KEYS, KEY_BYTES, check)
    return check.raw == key
