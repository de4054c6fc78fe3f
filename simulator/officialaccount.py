"""WeChat's side of an Official Account callback: signs, encrypts and posts messages; checks and opens replies.

Written from the published algorithm with `cryptography` alone (not wechatpy), so it is an independent check of
our implementation: sha1 signatures over sorted parts; AES-256-CBC with key = b64decode(EncodingAESKey + "="),
IV = key[:16], PKCS#7 padding to 32-byte blocks, plaintext = 16 random bytes + 4-byte big-endian length +
message + appid.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(key: bytes, appid: str, plaintext: str) -> str:
    body = plaintext.encode()
    raw = os.urandom(16) + struct.pack(">I", len(body)) + body + appid.encode()
    pad = BLOCK - len(raw) % BLOCK
    raw += bytes([pad]) * pad
    enc = _cipher(key).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def decrypt(key: bytes, appid: str, encrypted: str) -> str:
    dec = _cipher(key).decryptor()
    raw = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    pad = raw[-1]
    if not 1 <= pad <= BLOCK or raw[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    raw = raw[16:-pad]
    (length,) = struct.unpack(">I", raw[:4])
    message, tail = raw[4 : 4 + length], raw[4 + length :]
    if tail.decode() != appid:
        raise ValueError(f"appid mismatch: {tail!r}")
    return message.decode()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        text = str(value)
        parts.append(f"<{name}>{text if isinstance(value, int | float) else cdata(text)}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def parse_reply(xml: str) -> dict[str, str]:
    root = ET.fromstring(xml)
    return {child.tag: child.text or "" for child in root}


@dataclass
class OfficialAccount:
    """One Official Account as WeChat's servers see it: token, AES key, appid, and the account's own id."""

    token: str
    aes_key: str
    appid: str
    account: str = "gh_wanggetong"
    _msg_id: int = field(default_factory=lambda: 24_000_000_000_000_000 + secrets.randbelow(10**12))

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.aes_key + "=")

    def next_msg_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    def text(self, openid: str, content: str, msg_id: int | None = None) -> dict[str, Any]:
        return self._base(openid, "text") | {"Content": content, "MsgId": msg_id or self.next_msg_id()}

    def voice(self, openid: str, recognition: str) -> dict[str, Any]:
        return self._base(openid, "voice") | {
            "MediaId": "voice-media-1",
            "Format": "amr",
            "Recognition": recognition,
            "MsgId": self.next_msg_id(),
        }

    def image(self, openid: str, media_id: str = "img-media-1") -> dict[str, Any]:
        return self._base(openid, "image") | {
            "PicUrl": f"http://127.0.0.1/pic/{media_id}.jpg",
            "MediaId": media_id,
            "MsgId": self.next_msg_id(),
        }

    def location(self, openid: str, lat: float, lng: float, label: str = "") -> dict[str, Any]:
        return self._base(openid, "location") | {
            "Location_X": lat,
            "Location_Y": lng,
            "Scale": 15,
            "Label": label,
            "MsgId": self.next_msg_id(),
        }

    def event(self, openid: str, event: str, key: str = "", create_time: int | None = None) -> dict[str, Any]:
        fields = self._base(openid, "event", create_time) | {"Event": event}
        if key:
            fields["EventKey"] = key
        return fields

    def _base(self, openid: str, kind: str, create_time: int | None = None) -> dict[str, Any]:
        return {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": create_time or int(time.time()),
            "MsgType": kind,
        }

    def signed(
        self, body_fields: dict[str, Any], safe: bool = False, timestamp: int | None = None, nonce: str | None = None
    ) -> tuple[str, bytes]:
        """The query string and body WeChat would POST for these fields (plaintext or safe mode)."""
        ts, nonce = str(timestamp or int(time.time())), nonce or str(secrets.randbelow(10**10))
        query = {
            "signature": signature(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": str(body_fields.get("FromUserName", "")),
        }
        plain = message_xml(body_fields)
        if not safe:
            return urlencode(query), plain.encode()
        encrypted = encrypt(self.key, self.appid, plain)
        query |= {"encrypt_type": "aes", "msg_signature": signature(self.token, ts, nonce, encrypted)}
        body = f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        return urlencode(query), body.encode()

    def open_reply(self, body: str, safe: bool = False) -> dict[str, str]:
        """Check and decode our server's passive reply the way WeChat would; raises if it is not valid."""
        if body in ("", "success"):
            return {}
        fields = parse_reply(body)
        if not safe:
            return fields
        expected = signature(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
        if expected != fields["MsgSignature"]:
            raise ValueError("reply signature does not verify")
        return parse_reply(decrypt(self.key, self.appid, fields["Encrypt"]))
