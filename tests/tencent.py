"""Tencent's message encryption with the defects a hostile test needs (simulator/ only makes honest ciphertexts)."""

from __future__ import annotations

import base64
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def seal(key: bytes, receive_id: bytes, message: bytes, pad_byte: int | None = None, extra_length: int = 0) -> str:
    """AES-256-CBC as Tencent does it (16 random bytes, 4-byte length, message, receive id, PKCS#7 to 32 bytes) over
    any bytes, optionally with a wrong padding byte or a length field that says more than there is."""
    raw = os.urandom(16) + struct.pack(">I", len(message) + extra_length) + message + receive_id
    pad = 32 - len(raw) % 32
    raw += bytes([pad_byte if pad_byte is not None else pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()
