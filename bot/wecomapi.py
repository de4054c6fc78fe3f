"""WeCom's server API for the centre screen's web login (企业微信 OAuth 网页授权, snsapi_base).

The browser goes to Tencent's authorize page (`authorize_url`) and comes back with a code; `member_of_code` asks
`auth/getuserinfo` who that is. The self-built app's access token (`gettoken`) is kept in Redis, so every gunicorn
worker on every host uses the one token until it nears its end; with Redis away a sign-in fetches its own. A token
Tencent refuses is fetched again once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests
from redis import Redis
from redis.exceptions import RedisError

from config import Settings

log = logging.getLogger(__name__)

# The token was refused: invalid, not the latest, expired. Fetch a new one and try once more.
TOKEN_REFUSED = frozenset({40001, 40014, 42001})
# The code is wrong, used or older than 5 minutes.
CODE_REFUSED = 40029
# Our copy expires before Tencent's, so nobody calls with a token about to lapse.
TOKEN_MARGIN_SECONDS = 300


class WeComError(Exception):
    """Tencent said no (errcode), or could not be asked (errcode None: timeout, refused connection, not JSON)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"wecom {errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg

    @property
    def unreachable(self) -> bool:
        return self.errcode is None


@dataclass(frozen=True)
class Visitor:
    """Who came back from the authorize page: a member of the corp (userid), or a WeChat user outside it (openid)."""

    userid: str = ""
    openid: str = ""


def authorize_url(settings: Settings, redirect_uri: str, state: str) -> str:
    """Tencent's authorize page for a silent login (snsapi_base) that returns to `redirect_uri` with code and state."""
    query = urlencode(
        {
            "appid": settings.wecom_corp_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": settings.wecom_agent_id,
        },
        quote_via=quote,
    )
    return f"{settings.wecom_oauth_url}?{query}#wechat_redirect"


class WeComApi:
    """The self-built app's side of the API: its token, and who a login code belongs to."""

    def __init__(self, settings: Settings, redis: Redis, http: requests.Session | None = None) -> None:
        self.base = settings.wecom_api_base.rstrip("/") + "/"
        self.corp_id, self.secret = settings.wecom_corp_id, settings.wecom_app_secret
        self.timeout = settings.http_timeout
        self.redis = redis
        # One token per app: the corp and the agent (each app of a corp has a secret, and a token, of its own).
        self.token_key = f"wgt:wecom:{self.corp_id}:{settings.wecom_agent_id}:access_token"
        self.http = http or requests.Session()

    def member_of_code(self, code: str) -> Visitor:
        """Who the code from the authorize page belongs to; WeComError when Tencent refuses it or cannot be asked."""
        token = self.access_token()
        try:
            answer = self._get("auth/getuserinfo", access_token=token, code=code)
        except WeComError as refused:
            if refused.errcode not in TOKEN_REFUSED:
                raise
            log.info("wecom access token refused (%s); fetching a new one once", refused.errcode)
            answer = self._get("auth/getuserinfo", access_token=self.access_token(refused=token), code=code)
        # Tencent's older answer spelled them UserId and OpenId.
        userid = answer.get("userid") or answer.get("UserId") or ""
        openid = answer.get("openid") or answer.get("OpenId") or ""
        return Visitor(str(userid), str(openid))

    def access_token(self, refused: str | None = None) -> str:
        """The shared token, unless it is `refused`; otherwise a new one from gettoken, shared from then on."""
        cached = self._cached()
        if cached and cached != refused:
            return cached
        answer = self._get("gettoken", corpid=self.corp_id, corpsecret=self.secret)
        token = str(answer.get("access_token") or "")
        if not token:
            raise WeComError(-1, "gettoken answered without access_token")
        ttl = max(60, int(answer.get("expires_in") or 7200) - TOKEN_MARGIN_SECONDS)
        try:
            self.redis.set(self.token_key, token, ex=ttl)
        except RedisError as failure:
            log.warning("wecom access token not shared (Redis: %s)", failure)
        return token

    def _cached(self) -> str | None:
        try:
            value = self.redis.get(self.token_key)
        except RedisError as failure:  # Redis away: this sign-in fetches a token of its own rather than failing
            log.warning("wecom access token cache unavailable: %s", failure)
            return None
        return value.decode() if isinstance(value, bytes) else value

    def _get(self, path: str, **params: str) -> dict[str, Any]:
        try:
            response = self.http.get(self.base + path, params=params, timeout=self.timeout)
            response.raise_for_status()
            answer = response.json()
        except (requests.RequestException, ValueError) as failure:
            # Not the failure's text: requests puts the URL in it, and gettoken's URL carries the secret.
            raise WeComError(None, f"{type(failure).__name__} on {path}") from None
        if not isinstance(answer, dict):
            raise WeComError(None, "answer is not a JSON object")
        errcode = answer.get("errcode") or 0
        if errcode:
            raise WeComError(int(errcode), str(answer.get("errmsg", "")))
        return answer
