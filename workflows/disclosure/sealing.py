"""Files sealed at rest with AES-256-GCM, written and read as a stream.

A sealed file is a header and a run of chunks. Each chunk holds up to CHUNK bytes
of plain text under its own nonce (a random prefix, the chunk's number, and a flag
set only on the last chunk) and its own tag, with the header as associated data.
So a reader releases nothing it has not authenticated, chunks cannot be reordered,
and a file cut short fails at its end (this is the STREAM construction of Hoang,
Reyhanitabar, Rogaway and Vizár). Memory use is one chunk, however large the file.

Keys come from configuration (PACKAGE_KEYS: base64 keys, newest first, comma
separated) and never from the database; the header names the key by a short id,
so files sealed under an older key still open after a rotation."""

import base64
import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"DPSEAL1\n"
CHUNK = 64 * 1024
TAG = 16
KEY_ID = 8
PREFIX = 7  # nonce = prefix (7) || chunk number (4) || last flag (1)
HEADER = len(MAGIC) + KEY_ID + PREFIX


class SealError(Exception):
    """A sealed file that does not open: wrong key, altered or cut short."""


@dataclass(frozen=True)
class Key:
    id: bytes
    secret: bytes


def parse_keys(config: str) -> list[Key]:
    """PACKAGE_KEYS as configured: newest first. Each must be 32 bytes in base64."""
    keys = []
    for raw in (part.strip() for part in config.split(",")):
        if not raw:
            continue
        secret = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        if len(secret) != 32:
            raise ValueError("PACKAGE_KEYS: each key must be 32 bytes, base64-encoded.")
        keys.append(Key(hashlib.sha256(secret).digest()[:KEY_ID], secret))
    if not keys:
        raise ValueError("PACKAGE_KEYS: no key configured.")
    return keys


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    if number >= 2**32:
        raise SealError("File too large to seal.")
    return prefix + struct.pack(">I", number) + (b"\x01" if last else b"\x00")


class SealedWriter:
    """A write-only binary stream that seals what is written to `out`. It also
    hashes and counts the plain text, so the caller learns the SHA-256 and size
    of what it wrote without reading it back. close() writes the last chunk."""

    def __init__(self, out: BinaryIO, key: Key):
        self._out = out
        self._prefix = os.urandom(PREFIX)
        self._header = MAGIC + key.id + self._prefix
        self._aead = AESGCM(key.secret)
        self._buffer = bytearray()
        self._number = 0
        self._closed = False
        self.sha256 = hashlib.sha256()
        self.size = 0
        out.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._closed:
            raise ValueError("write to a closed sealed file")
        view = memoryview(data).cast("B")
        self.sha256.update(view)
        self.size += len(view)
        for start in range(0, len(view), CHUNK):  # a chunk at a time: a large write is not copied whole
            self._buffer += view[start:start + CHUNK]
            if len(self._buffer) > CHUNK:  # keep one back: the last chunk is flagged
                self._seal(bytes(self._buffer[:CHUNK]), last=False)
                del self._buffer[:CHUNK]
        return len(view)

    def flush(self) -> None:
        self._out.flush()

    def _seal(self, plain: bytes, last: bool) -> None:
        nonce = _nonce(self._prefix, self._number, last)
        self._out.write(self._aead.encrypt(nonce, plain, self._header))
        self._number += 1

    def close(self) -> None:
        if not self._closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True
            self._out.flush()


def open_sealed(path: os.PathLike | str, keys: list[Key]) -> Iterator[bytes]:
    """Open a sealed file and check its header now (so a missing file or unknown
    key is an error before anything is sent); the iterator then yields its plain
    text chunk by chunk, each authenticated before it is released."""
    fh = open(path, "rb")  # noqa: SIM115 (closed by the iterator)
    try:
        header = fh.read(HEADER)
        if len(header) != HEADER or not header.startswith(MAGIC):
            raise SealError("Not a sealed file.")
        key = next((k for k in keys if k.id == header[len(MAGIC):len(MAGIC) + KEY_ID]), None)
        if key is None:
            raise SealError("Sealed under a key that is not configured.")
    except BaseException:
        fh.close()
        raise
    return _chunks(fh, header, AESGCM(key.secret))


def _chunks(fh: BinaryIO, header: bytes, aead: AESGCM) -> Iterator[bytes]:
    prefix = header[len(MAGIC) + KEY_ID:]
    with fh:
        number = 0
        current = fh.read(CHUNK + TAG)
        while True:
            following = fh.read(CHUNK + TAG)
            last = not following
            try:
                plain = aead.decrypt(_nonce(prefix, number, last), current, header)
            except InvalidTag:
                raise SealError("A sealed file was altered, cut short or sealed under another key.") from None
            yield plain
            if last:
                return
            number += 1
            current = following
