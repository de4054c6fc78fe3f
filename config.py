"""Settings: the only code that reads the environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Development values, shared with the simulator so `make run` needs no setup. Production refuses them.
DEV_WECHAT_TOKEN = "wanggetong-dev-token"
DEV_WECHAT_APPID = "wx0000000000dev000"
DEV_WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEV_SECRET = "dev-secret"
# Signs the command-centre screen's session cookies and CSRF tokens (/centre/): whoever knows it can forge a sign-in.
DEV_SESSION_SECRET = "dev-session-secret-not-for-production"
DEV_WECOM_CORP_ID = "ww0000000000dev00"
DEV_WECOM_APP_TOKEN = "wanggetong-dev-wecom-token"
DEV_WECOM_APP_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
DEV_WECOM_AGENT_ID = "1000002"
DEV_MP_APPID = "wx0000000000devmp0"
# The mini-program's message push (消息推送) token: WeChat signs the media check's result event with it.
DEV_MP_TOKEN = "wanggetong-dev-mp-token"
# WGT_ENV: exactly these. "Production" or "prod" once ran as development with the public keys above.
ENVIRONMENTS = ("development", "production")
# The console's 消息加解密方式: 明文模式, 兼容模式, 安全模式. In plain mode WeChat signs the query only, never the body.
WECHAT_MODES = ("plain", "compatible", "safe")
# A callback token is recovered from one signature by brute force when it is short or plain (WECHAT_TOKEN=x took
# under 1 ms): production wants most of the 32 characters the consoles allow, and not a repeated pattern.
MIN_TOKEN_LENGTH = 24
MIN_TOKEN_DISTINCT = 10


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the process must not start."""


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    redis_url: str = ""
    var_dir: Path = ROOT / "var"
    wechat_token: str = DEV_WECHAT_TOKEN
    wechat_appid: str = DEV_WECHAT_APPID
    wechat_secret: str = DEV_SECRET
    wechat_aes_key: str = DEV_WECHAT_AES_KEY
    production: bool = False
    # plain: plaintext callbacks (encrypted ones are still accepted, they are signed); compatible and safe: a body
    # without a valid Encrypt part is refused, because WeChat sends nothing else then.
    wechat_mode: str = "plain"
    # WeChat signs every callback with a timestamp; older ones are replays.
    max_clock_skew_seconds: int = 300
    max_body_bytes: int = 64 * 1024
    queue_name: str = "wanggetong"
    # Outbox rows still pending this long after creation are re-enqueued by the sweep.
    outbox_grace_seconds: int = 30
    outbox_sweep_seconds: int = 60
    recording_path: Path | None = None
    # WeCom AI bot (智能机器人) long connection: empty bot id means no gateway; group pushes are recorded instead.
    wecom_bot_id: str = ""
    wecom_bot_secret: str = ""
    wecom_ws_url: str = "wss://openws.work.weixin.qq.com"
    # How the bot pushes into groups: "card" (template cards with buttons) or "markdown" (text with the typed
    # commands), for tenants where WeCom refuses actively pushed template cards (a card in a reply still works).
    wecom_bot_push: str = "card"
    # What WeCom lets an AI bot say in one chat (replies and pushes together); the gateway paces itself under it.
    # Tencent's numbers: raise them only against a stand-in (the load benchmark measures our pipeline that way).
    wecom_chat_per_minute: int = 30
    wecom_chat_per_hour: int = 1000
    # The supervisors' group chat (指挥中心群), where escalations and centre notices go.
    supervisor_chat_id: str = ""
    # WeCom self-built app (自建应用) single-chat callback at /wecom, for tenants without the AI bot.
    wecom_corp_id: str = DEV_WECOM_CORP_ID
    wecom_app_token: str = DEV_WECOM_APP_TOKEN
    wecom_app_aes_key: str = DEV_WECOM_APP_AES_KEY
    wecom_agent_id: str = DEV_WECOM_AGENT_ID  # empty: AgentID not checked
    # That app's Secret (corpsecret): with it, the centre screen offers 企业微信登录 (OAuth, snsapi_base). Empty: off.
    wecom_app_secret: str = ""
    # The group robot (群机器人) in the command centre's group, for tenants without the AI bot.
    wecom_supervisor_webhook_key: str = ""
    # Tencent API bases: production leaves them; the simulator and tests point them at the local stand-in.
    wechat_api_base: str = "https://api.weixin.qq.com/cgi-bin/"
    wecom_api_base: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    wecom_oauth_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    # Our mini-program (小程序) for residents: its AppID and AppSecret (code2session, phone numbers, content safety,
    # subscribe messages). Empty secret: the mini-program's sign-in (POST /api/v1/session) is off.
    wechat_mp_appid: str = DEV_MP_APPID
    wechat_mp_secret: str = ""
    # The token of the mini-program's message push (消息推送, JSON, 明文模式) at /wechat/mp, where WeChat sends the
    # photo check's verdict (wxa_media_check); production requires its own while the mini-program is on.
    wechat_mp_token: str = DEV_MP_TOKEN
    # The Official Account's web OAuth (网页授权, snsapi_base) for the resident page /m/ opened from the menu.
    wechat_oauth_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    # Who may show the resident page /m/ in a frame (CSP frame-ancestors): nobody, but the simulator's phone under
    # `make run` ("http://127.0.0.1:5001").
    frame_ancestors: str = ""
    # Where residents' photos are kept: empty, a directory under var_dir; "s3://KEY:SECRET@host:port/bucket" (add
    # "?secure=1&region=ap-guangzhou" as needed), any S3-compatible store (MinIO, Tencent COS) (storage/photostore.py).
    photo_store: str = ""
    # Where people reach this app (https://grid.example.gov.cn): WeCom's login sends the browser back there, so it must
    # be on the app's 可信域名. Empty: the address the request came to (right without a proxy in front).
    public_url: str = ""
    # Connect and read timeouts for every outbound Tencent call (wechatpy's default is none at all).
    http_timeout: tuple[float, float] = (3.0, 10.0)
    # The Official Account template for notices once the 48-hour customer-service window has closed.
    wechat_notice_template_id: str = ""
    # The mini-program's subscribe-message template (订阅消息, a 工单进度提醒-like one with character_string1, phrase2,
    # thing3, time4) that residents accept with wx.requestSubscribeMessage; each acceptance lets one notice go out
    # (docs/api.md). Empty: off, and a resident known only to the mini-program gets no notices.
    wechat_mp_notice_template_id: str = ""
    # "live": notices go to Tencent (or the simulator standing in for it); "recording": to a JSONL file only.
    delivery: str = "recording"
    # The working-time calendar (hours, holidays, make-up days); None: handlers/calendar.yaml.
    calendar_file: Path | None = None
    # Local time (China) of the daily report to the centre's group, "HH:MM"; empty: no daily report.
    daily_report_at: str = "18:00"
    # How often the cron looks for reminders, escalations and tickets to auto-close.
    ticket_sweep_seconds: int = 60
    # "json": one JSON object per line (production); "text": one readable line (development).
    log_format: str = "text"
    # Where gunicorn's workers keep their Prometheus counters (multiprocess mode); None: var_dir/prometheus.
    metrics_dir: Path | None = None
    # New tickets one resident may open in an hour and in a day; beyond, they wait for the centre.
    sender_limit_hour: int = 10
    sender_limit_day: int = 30
    # Sent in X-Health-Token, it shows /healthz's details (revision, errors, the gateway's host) from outside this
    # host; without it only the status and which checks pass. Empty: details for loopback only.
    health_token: str = ""
    # Signs the centre screen's session cookies and CSRF tokens; production requires its own (openssl rand -hex 32).
    session_secret: str = DEV_SESSION_SECRET
    # How long a centre screen sign-in lasts without signing in again.
    session_hours: int = 12
    # How many proxies in front of gunicorn set X-Forwarded-For (nginx: 1). The centre's failed-sign-in limit per
    # address counts the address they report; 0 (no proxy) ignores the header, so a client cannot choose its address.
    proxy_hops: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read settings from the environment; production (WGT_ENV=production) requires every secret."""
        env = dict(os.environ if env is None else env)
        environment = env.get("WGT_ENV", "development")
        if environment not in ENVIRONMENTS:
            # Failing open here ran a "Production" server on the public development keys.
            raise ConfigError(f"WGT_ENV 只能是 development 或 production（现在是 {environment!r}）")
        production = environment == "production"
        var_dir = Path(env.get("WGT_VAR_DIR", str(ROOT / "var")))
        settings = cls(
            database_url=env.get("DATABASE_URL", ""),
            redis_url=env.get("REDIS_URL", ""),
            var_dir=var_dir,
            wechat_token=env.get("WECHAT_TOKEN", DEV_WECHAT_TOKEN),
            wechat_appid=env.get("WECHAT_APPID", DEV_WECHAT_APPID),
            wechat_secret=env.get("WECHAT_SECRET", DEV_SECRET),
            wechat_aes_key=env.get("WECHAT_AES_KEY", DEV_WECHAT_AES_KEY),
            production=production,
            wechat_mode=env.get("WECHAT_MODE", "safe" if production else "plain"),
            recording_path=Path(env["WGT_RECORDING_PATH"]) if env.get("WGT_RECORDING_PATH") else None,
            wecom_bot_id=env.get("WECOM_BOT_ID", ""),
            wecom_bot_secret=env.get("WECOM_BOT_SECRET", ""),
            wecom_bot_push=env.get("WECOM_BOT_PUSH", "card"),
            wecom_chat_per_minute=int(env.get("WECOM_CHAT_PER_MINUTE", "30")),
            wecom_chat_per_hour=int(env.get("WECOM_CHAT_PER_HOUR", "1000")),
            wecom_ws_url=env.get("WECOM_WS_URL", cls.wecom_ws_url),
            supervisor_chat_id=env.get("WECOM_SUPERVISOR_CHAT_ID", ""),
            wecom_supervisor_webhook_key=env.get("WECOM_SUPERVISOR_WEBHOOK_KEY", ""),
            wecom_corp_id=env.get("WECOM_CORP_ID", DEV_WECOM_CORP_ID),
            wecom_app_token=env.get("WECOM_APP_TOKEN", DEV_WECOM_APP_TOKEN),
            wecom_app_aes_key=env.get("WECOM_APP_AES_KEY", DEV_WECOM_APP_AES_KEY),
            wecom_agent_id=env.get("WECOM_AGENT_ID", DEV_WECOM_AGENT_ID),
            wecom_app_secret=env.get("WECOM_APP_SECRET", ""),
            wechat_api_base=env.get("WECHAT_API_BASE", cls.wechat_api_base),
            wecom_api_base=env.get("WECOM_API_BASE", cls.wecom_api_base),
            wecom_oauth_url=env.get("WECOM_OAUTH_URL", cls.wecom_oauth_url),
            wechat_mp_appid=env.get("WECHAT_MP_APPID", DEV_MP_APPID),
            wechat_mp_secret=env.get("WECHAT_MP_SECRET", ""),
            wechat_mp_token=env.get("WECHAT_MP_TOKEN", DEV_MP_TOKEN),
            wechat_oauth_url=env.get("WECHAT_OAUTH_URL", cls.wechat_oauth_url),
            photo_store=env.get("WGT_PHOTO_STORE", ""),
            frame_ancestors=env.get("WGT_FRAME_ANCESTORS", ""),
            public_url=env.get("WGT_PUBLIC_URL", ""),
            wechat_notice_template_id=env.get("WECHAT_NOTICE_TEMPLATE_ID", ""),
            wechat_mp_notice_template_id=env.get("WECHAT_MP_NOTICE_TEMPLATE_ID", ""),
            queue_name=env.get("WGT_QUEUE", cls.queue_name),
            outbox_grace_seconds=int(env.get("WGT_OUTBOX_GRACE_SECONDS", cls.outbox_grace_seconds)),
            outbox_sweep_seconds=int(env.get("WGT_OUTBOX_SWEEP_SECONDS", cls.outbox_sweep_seconds)),
            delivery=env.get("WGT_DELIVERY", "live" if production else "recording"),
            calendar_file=Path(env["WGT_CALENDAR"]) if env.get("WGT_CALENDAR") else None,
            daily_report_at=env.get("WGT_DAILY_REPORT_AT", cls.daily_report_at),
            ticket_sweep_seconds=int(env.get("WGT_TICKET_SWEEP_SECONDS", cls.ticket_sweep_seconds)),
            log_format=env.get("WGT_LOG_FORMAT", "json" if production else "text"),
            metrics_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"]) if env.get("PROMETHEUS_MULTIPROC_DIR") else None,
            sender_limit_hour=int(env.get("WGT_SENDER_LIMIT_HOUR", cls.sender_limit_hour)),
            sender_limit_day=int(env.get("WGT_SENDER_LIMIT_DAY", cls.sender_limit_day)),
            health_token=env.get("WGT_HEALTH_TOKEN", ""),
            session_secret=env.get("WGT_SESSION_SECRET", DEV_SESSION_SECRET),
            session_hours=int(env.get("WGT_SESSION_HOURS", cls.session_hours)),
            proxy_hops=int(env.get("WGT_PROXY_HOPS", cls.proxy_hops)),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.delivery not in ("live", "recording"):
            raise ConfigError("WGT_DELIVERY 只能是 live 或 recording")
        if not 1 <= self.wecom_chat_per_minute <= self.wecom_chat_per_hour:
            raise ConfigError("WECOM_CHAT_PER_MINUTE 至少为 1，且不能大于 WECOM_CHAT_PER_HOUR")
        if self.wecom_bot_push not in ("card", "markdown"):
            raise ConfigError("WECOM_BOT_PUSH 只能是 card（模板卡片）或 markdown（文字加命令）")
        if self.wechat_mode not in WECHAT_MODES:
            raise ConfigError("WECHAT_MODE 只能是 plain、compatible 或 safe（与公众号后台的消息加解密方式一致）")
        if not 1 <= self.sender_limit_hour <= self.sender_limit_day:
            raise ConfigError("WGT_SENDER_LIMIT_HOUR 至少为 1，且不能大于 WGT_SENDER_LIMIT_DAY")
        if self.log_format not in ("json", "text"):
            raise ConfigError("WGT_LOG_FORMAT 只能是 json 或 text")
        if len(self.wechat_aes_key) != 43:
            raise ConfigError("WECHAT_AES_KEY 必须是 43 个字符（公众号后台的 EncodingAESKey）")
        if len(self.wecom_app_aes_key) != 43:
            raise ConfigError("WECOM_APP_AES_KEY 必须是 43 个字符（企业微信应用的 EncodingAESKey）")
        if self.daily_report_at and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.daily_report_at):
            raise ConfigError("WGT_DAILY_REPORT_AT 应为 HH:MM（如 18:00），留空表示不推送日报")
        if not 1 <= self.session_hours <= 24 * 30:
            raise ConfigError("WGT_SESSION_HOURS 应在 1 到 720 之间（指挥中心大屏登录的有效小时数）")
        if not 0 <= self.proxy_hops <= 5:
            raise ConfigError("WGT_PROXY_HOPS 应为网格通前面代理的层数（nginx 一层填 1，没有代理填 0）")
        if self.public_url and not re.fullmatch(r"https?://[^/?#\s]+/?", self.public_url):
            raise ConfigError("WGT_PUBLIC_URL 应为网格通的网址，如 https://grid.example.gov.cn（不带路径）")
        if self.frame_ancestors and not re.fullmatch(
            r"(https?://[^\s;,'\"]+)( https?://[^\s;,'\"]+)*", self.frame_ancestors
        ):
            raise ConfigError(
                "WGT_FRAME_ANCESTORS 应为允许嵌入居民页面的网址，多个用空格分开，如 http://127.0.0.1:5001"
            )
        if self.calendar_file is not None and not self.calendar_file.is_file():
            raise ConfigError(f"WGT_CALENDAR 指向的文件不存在：{self.calendar_file}")
        if not self.production:
            return
        missing = [
            name
            for name, value, dev in (
                ("DATABASE_URL", self.database_url, ""),
                ("REDIS_URL", self.redis_url, ""),
                ("WECHAT_TOKEN", self.wechat_token, DEV_WECHAT_TOKEN),
                ("WECHAT_APPID", self.wechat_appid, DEV_WECHAT_APPID),
                ("WECHAT_SECRET", self.wechat_secret, DEV_SECRET),
                ("WECHAT_AES_KEY", self.wechat_aes_key, DEV_WECHAT_AES_KEY),
                ("WGT_SESSION_SECRET", self.session_secret, DEV_SESSION_SECRET),
            )
            if value == dev
        ]
        if self.wecom_app_secret:
            # The secret alone would send staff to Tencent with the public development corp id.
            missing += [
                name
                for name, value, dev in (
                    ("WECOM_CORP_ID", self.wecom_corp_id, DEV_WECOM_CORP_ID),
                    ("WECOM_AGENT_ID", self.wecom_agent_id, DEV_WECOM_AGENT_ID),
                )
                if value in (dev, "")
            ]
        if self.wechat_mp_secret and self.wechat_mp_appid in (DEV_MP_APPID, ""):
            missing.append("WECHAT_MP_APPID")
        if self.miniprogram and self.wechat_mp_token in (DEV_MP_TOKEN, ""):
            # Whoever knows the public development token could sign verdicts that hide residents' photos.
            missing.append("WECHAT_MP_TOKEN")
        if missing:
            raise ConfigError("production needs these settings: " + ", ".join(missing))
        # The WeCom app's development token is allowed: /wecom stays off while it is set (bot/wecom.py).
        tokens = [("WECHAT_TOKEN", self.wechat_token)]
        if self.wecom_app_token != DEV_WECOM_APP_TOKEN:
            tokens.append(("WECOM_APP_TOKEN", self.wecom_app_token))
        if self.miniprogram:
            tokens.append(("WECHAT_MP_TOKEN", self.wechat_mp_token))
        weak = [name for name, token in tokens if is_weak_token(token)]
        if weak:
            raise ConfigError(
                ", ".join(weak)
                + f" 太弱：请在后台重新生成 {MIN_TOKEN_LENGTH} 到 32 位的随机字母数字（如 openssl rand -hex 16）"
            )

    @property
    def encrypted_only(self) -> bool:
        """WeChat sends an Encrypt part with every callback: a plaintext body is someone else's."""
        return self.wechat_mode in ("compatible", "safe")

    @property
    def wecom_login(self) -> bool:
        """The centre screen offers 企业微信登录: the self-built app's corp id, agent id and secret are all set."""
        return bool(self.wecom_app_secret and self.wecom_corp_id and self.wecom_agent_id)

    @property
    def miniprogram(self) -> bool:
        """The mini-program's sign-in is on: its AppID and AppSecret are set."""
        return bool(self.wechat_mp_appid and self.wechat_mp_secret)

    @property
    def wechat_root(self) -> str:
        """https://api.weixin.qq.com/: the base of the APIs outside /cgi-bin/ (/sns/, /wxa/)."""
        return self.wechat_api_base.removesuffix("/").removesuffix("cgi-bin")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'wanggetong.db'}"

    @property
    def effective_recording_path(self) -> Path:
        return self.recording_path or self.var_dir / "deliveries.jsonl"

    @property
    def effective_metrics_dir(self) -> Path:
        return self.metrics_dir or self.var_dir / "prometheus"

    @property
    def report_time(self) -> time | None:
        """The daily report's local time, or None when it is switched off."""
        if not self.daily_report_at:
            return None
        hour, minute = self.daily_report_at.split(":")
        return time(int(hour), int(minute))


def is_weak_token(token: str) -> bool:
    """Too short, or too few distinct characters, to survive an offline search from one captured signature."""
    return len(token) < MIN_TOKEN_LENGTH or len(set(token)) < MIN_TOKEN_DISTINCT
