"""The mini-program's server API (小程序) and the Official Account's web login (网页授权), spoken with `requests`:
wechatpy 1.8.18 knows only the v1 bodies of these calls.

- `MiniProgramClient.code2session`: a wx.login code -> who signed in (openid, unionid). The session key Tencent
  sends with them is dropped on the spot: nothing here decrypts, and a key kept is a key that can leak.
- `MiniProgramClient.phone_number`: the code of the getPhoneNumber button -> the number, without country code.
- `MiniProgramClient.check_text`: content safety v2 (msgSecCheck). Errcode 0 only says the check ran; the verdict
  is `result.suggest`.
- `MiniProgramClient.check_media`: content safety v2 for a photo (mediaCheckAsync): Tencent fetches the image from an
  absolute URL and answers only a trace_id; the verdict comes later, as the event `wxa_media_check` pushed to the
  mini-program's message push URL (bot/mppush.py).
- `MiniProgramClient.send_subscribe`: one subscribe message (订阅消息), which spends one of the user's acceptances
  at Tencent; 43101 (NO_SUBSCRIPTION) when they have none left.
- `oa_web_openid`: the code the Official Account's authorize page (snsapi_base) sends back -> openid, unionid.

The mini-program's access token (its own app, its own token) is shared through Redis like the Official Account's
(bot/sharedtoken.py); a token Tencent refuses is fetched again once. Tencent's refusals are `WeChatRefused`; a
failure to ask (timeout, refused connection, an answer that is not JSON or lacks what it must carry, Redis away)
is `WeChatUnreachable`, one of `TRANSIENT_FAILURES`. Neither carries a secret, a code or a session key: requests'
own messages name the URL, which carries the secret and the code, so they are never passed on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

import requests
from redis import Redis
from redis.exceptions import RedisError

from bot.channels import retryable
from bot.sharedtoken import SharedToken, TokenUnavailable
from config import Settings

log = logging.getLogger(__name__)

# The token was refused: invalid, not the latest, expired. Fetch again and try once more.
TOKEN_REFUSED = frozenset({40001, 40014, 42001})
# code2session's refusals of the code: invalid or expired, used already, too many logins a minute for this user.
CODE_INVALID, CODE_USED, FREQUENCY_LIMIT = 40029, 40163, 45011
SUGGESTIONS = ("pass", "review", "risky")
# subscribe/send: the user has not accepted the template (or every acceptance is spent).
NO_SUBSCRIPTION = 43101
# msgSecCheck v2's scenes: 1 资料, 2 评论, 3 论坛, 4 社交日志.
SCENE_PROFILE, SCENE_COMMENT, SCENE_FORUM, SCENE_LOG = 1, 2, 3, 4
# mediaCheckAsync's media types: 1 audio, 2 image.
MEDIA_AUDIO, MEDIA_IMAGE = 1, 2
# What the photo row keeps of a trace_id (Tencent's are 26 characters: "690b03d2-301f6111-35ffbd44").
MAX_TRACE_ID = 64

Suggest = Literal["pass", "review", "risky"]


class WeChatRefused(Exception):
    """Tencent answered with an errcode: a bad or used code, a limit, wrong credentials."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"wechat {errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg

    @property
    def retryable(self) -> bool:
        """Not the caller's code at fault: Tencent busy or limiting (-1, 45011), or our credentials (40013, 40125)."""
        return retryable(self.errcode)


class WeChatUnreachable(Exception):
    """Tencent could not be asked, or its answer could not be read: try again later."""


# What a caller answers with "try again later"; Redis and the token lock are folded into WeChatUnreachable.
TRANSIENT_FAILURES = (WeChatUnreachable,)


@dataclass(frozen=True)
class MiniSession:
    """Who signed in to the mini-program. Never the session key."""

    openid: str
    unionid: str | None = None


@dataclass(frozen=True)
class TextVerdict:
    """msgSecCheck's verdict: suggest "pass", "review" or "risky"; label 100 is 正常, others name the kind (20001
    时政, 20002 色情, 20003 辱骂, 20006 违法犯罪, 21000 其他, ...)."""

    suggest: Suggest
    label: int


class MiniProgramClient:
    """The mini-program's side of the API: its access token, sign-in codes, phone numbers, content safety."""

    def __init__(self, settings: Settings, redis: Redis, http: requests.Session | None = None) -> None:
        self.appid, self.secret = settings.wechat_mp_appid, settings.wechat_mp_secret
        self.api_base = settings.wechat_api_base
        self.root = settings.wechat_root
        self.timeout = settings.http_timeout
        self.http = http or requests.Session()
        self.shared_token = SharedToken(
            redis, f"wgt:mp:{self.appid}:access_token", self._stable_token, settings.http_timeout
        )

    def code2session(self, code: str) -> MiniSession:
        """Who the wx.login code belongs to; WeChatRefused for a bad (40029), used (40163) or too frequent (45011)
        login."""
        params = {"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"}
        answer = _get(self.http, self.root, "sns/jscode2session", params, self.timeout)
        openid = answer.get("openid")
        if not isinstance(openid, str) or not openid:
            raise WeChatUnreachable("jscode2session answered without an openid")
        return MiniSession(openid, _optional(answer.get("unionid")))

    def phone_number(self, code: str) -> str:
        """The number (without country code) the user allowed with the getPhoneNumber button's code."""
        answer = self._call("wxa/business/getuserphonenumber", {"code": code})
        info = answer.get("phone_info")
        phone = info.get("purePhoneNumber") if isinstance(info, dict) else None
        if not isinstance(phone, str) or not phone:
            raise WeChatUnreachable("getuserphonenumber answered without a number")
        return phone

    def check_text(self, openid: str, text: str, scene: int = SCENE_PROFILE) -> TextVerdict:
        """Content safety v2 on `text` (at most 2,500 characters) written by `openid`, who used the mini-program in
        the last two hours."""
        body = {"version": 2, "openid": openid, "scene": scene, "content": text}
        answer = self._call("wxa/msg_sec_check", body)
        result = answer.get("result")
        suggest = result.get("suggest") if isinstance(result, dict) else None
        label = result.get("label") if isinstance(result, dict) else None
        if suggest not in SUGGESTIONS or not isinstance(label, int):
            # Errcode 0 without a verdict is not a pass.
            raise WeChatUnreachable("msg_sec_check answered without a verdict")
        return TextVerdict(suggest, label)

    def check_media(self, openid: str, media_url: str, scene: int = SCENE_FORUM, media_type: int = MEDIA_IMAGE) -> str:
        """Ask for content safety v2 on the image at `media_url` (absolute, fetchable by Tencent, at most 10 MB)
        sent by `openid`; the trace_id the verdict event will name."""
        body = {"media_url": media_url, "media_type": media_type, "version": 2, "scene": scene, "openid": openid}
        answer = self._call("wxa/media_check_async", body)
        # Cloud calls name it traceId; the HTTPS API, which this is, trace_id.
        trace_id = answer.get("trace_id") or answer.get("traceId")
        if not isinstance(trace_id, str) or not 0 < len(trace_id) <= MAX_TRACE_ID:
            raise WeChatUnreachable("media_check_async answered without a usable trace_id")
        return trace_id

    def send_subscribe(
        self, openid: str, template_id: str, data: dict[str, dict[str, str]], page: str = "", state: str = ""
    ) -> None:
        """One subscribe message to `openid`: `data` is {keyword: {"value"}}, `page` the mini-program page a tap opens
        (none when empty), `state` "developer", "trial" or "formal" (Tencent's default: formal)."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            body["page"] = page
        if state:
            body["miniprogram_state"] = state
        self._call("cgi-bin/message/subscribe/send", body)

    def access_token(self, refused: str | None = None) -> str:
        """The shared token, or (with `refused`) one other than the token Tencent just refused."""
        try:
            return self.shared_token.refresh(refused) if refused else self.shared_token.get()
        except (RedisError, TokenUnavailable) as failure:
            raise WeChatUnreachable(f"access token unavailable ({type(failure).__name__})") from None

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the access token; once the token is refused, fetch again and try exactly once more."""
        token = self.access_token()
        try:
            return self._post(path, token, body)
        except WeChatRefused as refused:
            if refused.errcode not in TOKEN_REFUSED:
                raise
            log.info("mini-program access token refused (%s); fetching again once", refused.errcode)
        return self._post(path, self.access_token(refused=token), body)

    def _post(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        # UTF-8 as it is, as Tencent's documents ask (requests' json= would escape every Chinese character).
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return _answer(
            path,
            lambda: self.http.post(
                self.root + path, params={"access_token": token}, data=data, headers=headers, timeout=self.timeout
            ),
        )

    def _stable_token(self, force: bool) -> tuple[str, int]:
        body: dict[str, Any] = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret,
            "force_refresh": force,
        }
        answer = _answer(
            "stable_token", lambda: self.http.post(self.api_base + "stable_token", json=body, timeout=self.timeout)
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatUnreachable("stable_token answered without a token")
        return token, int(answer.get("expires_in") or 7200)


def oa_web_openid(settings: Settings, code: str, http: requests.Session | None = None) -> tuple[str, str | None]:
    """(openid, unionid) of the Official Account user the authorize page's code belongs to. snsapi_base gives the
    openid; the unionid only when Tencent has one to give (the account bound to an Open Platform account, and the
    user known to it)."""
    params = {
        "appid": settings.wechat_appid,
        "secret": settings.wechat_secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    # The user's web access token and refresh token come too; snsapi_base has nothing to use them for.
    http = http or requests.Session()
    answer = _get(http, settings.wechat_root, "sns/oauth2/access_token", params, settings.http_timeout)
    openid = answer.get("openid")
    if not isinstance(openid, str) or not openid:
        raise WeChatUnreachable("sns/oauth2/access_token answered without an openid")
    return openid, _optional(answer.get("unionid"))


def oa_authorize_url(settings: Settings, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
    """The Official Account's authorize page, which comes back to `redirect_uri` with code and state."""
    query = urlencode(
        {
            "appid": settings.wechat_appid,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": scope,
            "state": state,
        },
        quote_via=quote,
    )
    return f"{settings.wechat_oauth_url}?{query}#wechat_redirect"


def _get(
    http: requests.Session, root: str, path: str, params: dict[str, str], timeout: tuple[float, float]
) -> dict[str, Any]:
    return _answer(path, lambda: http.get(root + path, params=params, timeout=timeout))


def _answer(path: str, send: Callable[[], requests.Response]) -> dict[str, Any]:
    """Tencent's JSON answer to `send()`; WeChatRefused for an errcode, WeChatUnreachable for no readable answer."""
    try:
        response = send()
        response.raise_for_status()
        answer = response.json()
    except (requests.RequestException, ValueError) as failure:
        # Never the failure's text, nor a chained exception carrying it: requests puts the URL in, with the secret.
        raise WeChatUnreachable(f"{type(failure).__name__} on {path}") from None
    if not isinstance(answer, dict):
        raise WeChatUnreachable(f"{path} answered something other than a JSON object")
    errcode = answer.get("errcode") or 0
    if errcode:
        try:
            code = int(errcode)
        except (TypeError, ValueError):
            raise WeChatUnreachable(f"{path} answered an errcode that is not a number") from None
        raise WeChatRefused(code, str(answer.get("errmsg", "")))
    return answer


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
