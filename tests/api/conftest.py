"""The resident app's API against the WeChat stand-in on a real local port: residents sign in with the codes
wx.login and the Official Account's authorize page would give them, as a phone does."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from PIL import Image
from redis import Redis
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from config import DEV_MP_APPID, DEV_SECRET, DEV_WECHAT_APPID
from simulator.wechat_api import WeChatApi, create_wechat_api

MP_SECRET = "test-mp-secret"
SPEC = Path(__file__).parents[2] / "api" / "openapi.yaml"


@dataclass
class Tencent:
    url: str
    api: WeChatApi


@pytest.fixture
def tencent() -> Iterator[Tencent]:
    stand_in = create_wechat_api(DEV_WECHAT_APPID, DEV_SECRET, mp_appid=DEV_MP_APPID, mp_secret=MP_SECRET)
    server = make_server("127.0.0.1", 0, stand_in, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield Tencent(f"http://127.0.0.1:{server.server_port}", stand_in.extensions["wechat_api"])
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(make_app: Callable[..., Flask], tencent: Tencent) -> Flask:
    return make_app(wechat_api_base=f"{tencent.url}/cgi-bin/", wechat_mp_secret=MP_SECRET)


@pytest.fixture(autouse=True)
def no_call_counts(redis_url: str) -> Iterator[None]:
    """The per-caller limits count in a Redis that outlives each test."""
    redis = Redis.from_url(redis_url)
    for key in redis.scan_iter("wgt:api:*"):
        redis.delete(key)
    yield
    redis.close()


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return loaded


def conforms(response: TestResponse, path: str, method: str) -> None:
    """The answer is one the OpenAPI document promises for this operation: its status, and its JSON's schema."""
    operation = spec()["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} answered {status}, not in the document"
    promised = operation["responses"][status]
    if "$ref" in promised:
        promised = spec()["components"]["responses"][promised["$ref"].rsplit("/", 1)[1]]
    schema = promised["content"].get("application/json", {}).get("schema")
    if schema is not None:
        validator = Draft202012Validator({**schema, "components": spec()["components"]})
        errors = [e.message for e in validator.iter_errors(response.get_json())]
        assert not errors, errors


class Phone:
    """A resident's phone: the app, signed in; every answer is checked against the document."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, template: str | None = None, **kwargs: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response = self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
        conforms(response, template or path, method.lower())
        return response

    def report(self, text: str, key: str | None = None, **fields: Any) -> TestResponse:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        return self.call("POST", "/tickets", json={"text": text, **fields}, headers=headers)

    def ticket(self, number: int) -> TestResponse:
        return self.call("GET", f"/tickets/{number}", "/tickets/{ticket_id}")

    def act(self, number: int, verb: str, key: str | None = None, **json: Any) -> TestResponse:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        kwargs: dict[str, Any] = {"json": json} if json else {}
        return self.call(
            "POST", f"/tickets/{number}/{verb}", f"/tickets/{{ticket_id}}/{verb}", headers=headers, **kwargs
        )

    def upload(self, data: bytes, name: str = "photo.jpg") -> TestResponse:
        """As wx.uploadFile sends it: one file in a multipart body (made here, so no temporary file is left open
        when the server refuses before reading it)."""
        head = f'--b\r\nContent-Disposition: form-data; name="photo"; filename="{name}"\r\n\r\n'.encode()
        body = head + data + b"\r\n--b--\r\n"
        return self.call("POST", "/photos", data=body, content_type="multipart/form-data; boundary=b")


def sign_in(client: FlaskClient, tencent: Tencent, openid: str, web: bool = False, unionid: str | None = None) -> Phone:
    code = tencent.api.oa_authorize(openid, unionid) if web else tencent.api.wx_login(openid, unionid)
    path = "/session/web" if web else "/session"
    response = client.post(f"/api/v1{path}", json={"code": code})
    conforms(response, path, "post")
    assert response.status_code == 200, response.get_json()
    return Phone(client, response.get_json()["token"])


def jpeg(width: int = 640, height: int = 480, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 160, 200)).save(out, "JPEG", exif=exif or Image.Exif())
    return out.getvalue()
