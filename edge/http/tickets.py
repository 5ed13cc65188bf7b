"""Session-ticket keys shared by a node's workers, rotated on a schedule, the previous kept.

A resumed TLS session skips the key exchange and the certificate signature: the client shows a
ticket the server sealed earlier. Each worker is its own process with its own OpenSSL context,
and a client's next connection may land on any of them, so every worker must seal and open
tickets with the same keys (nginx's `ssl_session_ticket_key`). No message is needed for that:
each key is derived from a secret the node's workers share (the supervisor makes one at start
and hands it to every worker with the configuration) and the number of its period, so every
worker arrives at the same key at the same moment, and a reload keeps it.

As nginx does with several key files, new tickets are sealed with the current period's key and
tickets of the current and the previous period are opened (one opened with the previous key is
sealed again with the current one). A ticket therefore stays good for one whole period after it
was issued whenever in its period that was, and the session timeout, which is the lifetime hint
the ticket carries (RFC 5077 3.3, RFC 8446 4.6.1), is set to exactly one period: the hint says
how long the ticket is really accepted.

Python's ssl module has no call for any of this. OpenSSL's ticket key callback
(`SSL_CTX_set_tlsext_ticket_key_cb`, deprecated in 3.0 but present, and the simplest: it hands
an HMAC_CTX and an EVP_CIPHER_CTX to initialise) is set through ctypes on the `SSL_CTX *` that
sits right after the object header of a Python `SSLContext` (CPython's `PySSLContext`).
OpenSSL calls it inside the handshake, which _ssl runs with the GIL released; ctypes takes the
GIL back for the few lines of Python below. `self_test` proves it on a handshake in memory
before it is trusted; where it fails, `install` (only the current key, set with
`SSL_CTRL_SET_TLSEXT_TICKET_KEYS`) is the fallback, and failing that OpenSSL's own random key
per process (tickets resume only on the worker that issued them).
"""

from __future__ import annotations

import ctypes
import hmac
import logging
import ssl
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("edge.tls")

KEY_BYTES = 80  # name 16 + HMAC-SHA256 key 32 + AES-256 key 32, as nginx's 80-byte key files
NAME_BYTES = 16
SSL_CTRL_GET_TLSEXT_TICKET_KEYS = 58
SSL_CTRL_SET_TLSEXT_TICKET_KEYS = 59
SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB = 72
IV_BYTES = 16  # AES-256-CBC, the cipher OpenSSL itself seals tickets with

# int cb(SSL *s, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *ctx,
#        HMAC_CTX *hctx, int enc)
TicketCallback = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int,
)


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
        # _ssl is linked against libssl and libcrypto: its handle finds both libraries' symbols
        library = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
        self.ctrl = _function(library, "SSL_CTX_ctrl", ctypes.c_long, ctypes.c_void_p,
                              ctypes.c_int, ctypes.c_long, ctypes.c_void_p)  # fmt: skip
        self.callback_ctrl = _function(library, "SSL_CTX_callback_ctrl", ctypes.c_long,
                                       ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)  # fmt: skip
        self.set_timeout = _function(library, "SSL_CTX_set_timeout", ctypes.c_long,
                                     ctypes.c_void_p, ctypes.c_long)  # fmt: skip
        self.get_timeout = _function(library, "SSL_CTX_get_timeout", ctypes.c_long,
                                     ctypes.c_void_p)  # fmt: skip
        self.rand_bytes = _function(library, "RAND_bytes", ctypes.c_int, ctypes.c_void_p,
                                    ctypes.c_int)  # fmt: skip
        self.encrypt_init = _function(library, "EVP_EncryptInit_ex", ctypes.c_int,
                                      *[ctypes.c_void_p] * 5)  # fmt: skip
        self.decrypt_init = _function(library, "EVP_DecryptInit_ex", ctypes.c_int,
                                      *[ctypes.c_void_p] * 5)  # fmt: skip
        self.hmac_init = _function(library, "HMAC_Init_ex", ctypes.c_int, ctypes.c_void_p,
                                   ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                   ctypes.c_void_p)  # fmt: skip
        self.aes_256_cbc = _function(library, "EVP_aes_256_cbc", ctypes.c_void_p)()
        self.sha256 = _function(library, "EVP_sha256", ctypes.c_void_p)()


def _function(library: ctypes.CDLL, name: str, restype: object, *argtypes: object) -> Any:
    function = getattr(library, name)
    function.restype, function.argtypes = restype, list(argtypes)
    return function


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


def ssl_ctx(context: ssl.SSLContext) -> int:
    """The `SSL_CTX *` of a Python context (0 where there is none)."""
    return ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value or 0


def install(context: ssl.SSLContext, key: bytes) -> bool:
    """Seal and open this context's tickets with `key` alone; False where that is not possible."""
    openssl = _library()
    pointer = ssl_ctx(context)
    if openssl is None or len(key) != KEY_BYTES or not pointer:
        return False
    given = ctypes.create_string_buffer(key, KEY_BYTES)
    if openssl.ctrl(pointer, SSL_CTRL_SET_TLSEXT_TICKET_KEYS, KEY_BYTES, given) != 1:
        return False
    check = ctypes.create_string_buffer(KEY_BYTES)
    openssl.ctrl(pointer, SSL_CTRL_GET_TLSEXT_TICKET_KEYS, KEY_BYTES, check)
    return check.raw == key


def set_lifetime(context: ssl.SSLContext, seconds: int) -> bool:
    """The session timeout, which OpenSSL also sends as the ticket lifetime hint."""
    openssl = _library()
    pointer = ssl_ctx(context)
    if openssl is None or not pointer:
        return False
    openssl.set_timeout(pointer, seconds)
    return bool(openssl.get_timeout(pointer) == seconds)


@dataclass(frozen=True, slots=True)
class Key:
    name: bytes
    hmac_key: bytes
    aes_key: bytes

    @classmethod
    def of(cls, key: bytes) -> Key:
        return cls(key[:NAME_BYTES], key[NAME_BYTES:48], key[48:KEY_BYTES])


class Ring:
    """The keys one process seals and opens tickets with, and the callback OpenSSL calls.

    `keys[0]` seals; every key opens. Rotation swaps the tuple in one assignment, so the
    callback (run inside a handshake) always sees a whole set."""

    def __init__(self) -> None:
        self.keys: tuple[Key, ...] = ()
        self.sealed = self.opened = self.renewed = self.unknown = 0
        # held here for as long as any context may call it (ctypes frees an unreferenced one)
        self.callback = TicketCallback(self._on_ticket)

    def set(self, current: bytes, *older: bytes) -> None:
        self.keys = tuple(Key.of(key) for key in (current, *older))

    def _on_ticket(self, _ssl: int, name: int, iv: int, cipher: int, mac: int, enc: int) -> int:
        # any failure answers 0: no ticket sealed, or a full handshake instead of a resumption
        openssl, keys, index = _openssl, self.keys, 0
        if openssl is None or not keys:
            return 0
        if enc == 1:  # seal a new ticket with the current key
            key = keys[0]
            if openssl.rand_bytes(iv, IV_BYTES) != 1:
                return 0
            ctypes.memmove(name, key.name, NAME_BYTES)
            if openssl.encrypt_init(cipher, openssl.aes_256_cbc, None, key.aes_key, iv) != 1:
                return 0
            self.sealed += 1
        else:  # open a ticket: which key, by its name
            given = ctypes.string_at(name, NAME_BYTES)
            index = next((i for i, key in enumerate(keys) if key.name == given), -1)
            if index < 0:
                self.unknown += 1
                return 0  # not ours (or too old): a full handshake, a new ticket
            key = keys[index]
            if openssl.decrypt_init(cipher, openssl.aes_256_cbc, None, key.aes_key, iv) != 1:
                return 0
            self.opened += 1
        if openssl.hmac_init(mac, key.hmac_key, len(key.hmac_key), openssl.sha256, None) != 1:
            return 0
        if index:
            self.renewed += 1
            return 2  # opened with an older key: good, and sealed again with the current one
        return 1

    def attach(self, context: ssl.SSLContext) -> bool:
        """OpenSSL calls this ring for `context`'s tickets; False where it cannot."""
        openssl = _library()
        pointer = ssl_ctx(context)
        if openssl is None or not pointer:
            return False
        function = ctypes.cast(self.callback, ctypes.c_void_p)
        return bool(
            openssl.callback_ctrl(pointer, SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB, function) == 1
        )

    @staticmethod
    def detach(context: ssl.SSLContext) -> None:
        openssl = _library()
        pointer = ssl_ctx(context)
        if openssl is not None and pointer:
            openssl.callback_ctrl(pointer, SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB, None)


def converse(
    server: ssl.SSLContext, client: ssl.SSLContext, session: ssl.SSLSession | None = None
) -> ssl.SSLObject:
    """One handshake between two contexts in memory, and a byte from the server (a TLS 1.3
    ticket comes after the handshake); returns the client's end."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    near, far = ssl.MemoryBIO(), ssl.MemoryBIO()
    mine = client.wrap_bio(to_client, to_server, server_hostname="localhost", session=session)
    theirs = server.wrap_bio(far, near, server_side=True)
    pending = [mine, theirs]
    for _ in range(8):
        for side in list(pending):
            try:
                side.do_handshake()
                pending.remove(side)
            except ssl.SSLWantReadError:
                pass
            far.write(to_server.read())
            to_client.write(near.read())
        if not pending:
            break
    theirs.write(b"x")
    to_client.write(near.read())
    mine.read(1)
    return mine


def self_test(server: ssl.SSLContext, ring: Ring) -> bool:
    """Does OpenSSL call `ring` for `server`'s tickets, and resume with them? (A handshake
    and a resumption in memory: about a millisecond each.)"""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    try:
        opened = ring.opened
        first = converse(server, client)
        again = converse(server, client, first.session)
    except (ssl.SSLError, OSError) as exc:
        log.warning("ticket key self-test failed", extra={"error": str(exc)})
        return False
    return bool(again.session_reused) and ring.opened > opened
