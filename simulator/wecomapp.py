"""WeCom's side of a self-built app's callback (自建应用): verifies the URL, signs, encrypts and posts members'
messages; checks and opens the passive replies.

The same AES scheme as the Official Account with the corp id as the receive id, so the `cryptography`-only
functions of simulator.officialaccount do the work: an independent check of our wechatpy-based side. Every
parameter is a msg_signature (sha1 over token, timestamp, nonce and the ciphertext); echostr is encrypted too.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from simulator.officialaccount import cdata, decrypt, encrypt, message_xml, parse_reply, signature


@dataclass
class WeComApp:
    """One self-built app as WeCom's servers see it: callback token, EncodingAESKey, corp id and agent id."""

    token: str
    aes_key: str
    corp_id: str
    agent_id: int = 1000002
    _msg_id: int = field(default_factory=lambda: 7_000_000_000_000_000_000 + secrets.randbelow(10**12))

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.aes_key + "=")

    def next_msg_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    def text(self, userid: str, content: str, msg_id: int | None = None) -> dict[str, Any]:
        return self._base(userid, "text") | {"Content": content, "MsgId": msg_id or self.next_msg_id()}

    def image(self, userid: str, media_id: str = "wecom-img-1") -> dict[str, Any]:
        return self._base(userid, "image") | {
            "PicUrl": f"http://127.0.0.1/pic/{media_id}.jpg",
            "MediaId": media_id,
            "MsgId": self.next_msg_id(),
        }

    def event(self, userid: str, event: str, key: str = "", create_time: int | None = None) -> dict[str, Any]:
        fields = self._base(userid, "event", create_time) | {"Event": event}
        if key:
            fields["EventKey"] = key
        return fields

    def _base(self, userid: str, kind: str, create_time: int | None = None) -> dict[str, Any]:
        return {
            "ToUserName": self.corp_id,
            "FromUserName": userid,
            "CreateTime": create_time or int(time.time()),
            "MsgType": kind,
            "AgentID": self.agent_id,
        }

    def verification(self, echostr: str, timestamp: int | None = None, nonce: str | None = None) -> str:
        """The query string of the GET WeCom sends when an admin saves the callback URL."""
        ts, nonce = str(timestamp or int(time.time())), nonce or str(secrets.randbelow(10**10))
        encrypted = encrypt(self.key, self.corp_id, echostr)
        query = {
            "msg_signature": signature(self.token, ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": encrypted,
        }
        return urlencode(query)

    def signed(
        self, body_fields: dict[str, Any], timestamp: int | None = None, nonce: str | None = None
    ) -> tuple[str, bytes]:
        """The query string and body WeCom would POST for these fields."""
        ts, nonce = str(timestamp or int(time.time())), nonce or str(secrets.randbelow(10**10))
        encrypted = encrypt(self.key, self.corp_id, message_xml(body_fields))
        query = {"msg_signature": signature(self.token, ts, nonce, encrypted), "timestamp": ts, "nonce": nonce}
        body = (
            f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName><AgentID>{cdata(str(self.agent_id))}</AgentID>"
            f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        )
        return urlencode(query), body.encode()

    def open_echo(self, query_echostr: str) -> str:
        """What a correct server answers to a verification: the plaintext inside echostr."""
        return decrypt(self.key, self.corp_id, query_echostr)

    def open_reply(self, body: str) -> dict[str, str]:
        """Check and decode our server's passive reply the way WeCom would; raises if it is not valid.
        An empty body means no reply."""
        if body == "":
            return {}
        fields = parse_reply(body)
        expected = signature(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
        if expected != fields["MsgSignature"]:
            raise ValueError("reply signature does not verify")
        return parse_reply(decrypt(self.key, self.corp_id, fields["Encrypt"]))
