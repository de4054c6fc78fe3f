"""Play Tencent against a running 网格通.

`python -m simulator say "3号楼楼道灯坏了"` signs (and with --safe, encrypts) one message exactly as WeChat's
servers do, posts it to /wechat and prints the passive reply the resident would see.
`python -m simulator serve` runs the WeChat API and WeCom AI-bot stand-ins and the browser page that drives them.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

from config import Settings
from simulator import server
from simulator.officialaccount import OfficialAccount


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    say = sub.add_parser("say", help="send a text message as a resident and print the reply")
    say.add_argument("text")
    say.add_argument("--openid", default="o-demo-resident-1", help="sender (default: a demo resident of 幸福小区3栋)")
    say.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '5000')}/wechat")
    say.add_argument("--safe", action="store_true", help="safe mode: AES-encrypted message and reply")
    serve = sub.add_parser("serve", help="the browser simulator: resident, grid-group and command-centre chats")
    server.add_arguments(serve)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return server.serve(args)

    settings = Settings.from_env()
    account = OfficialAccount(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    query, body = account.signed(account.text(args.openid, args.text), safe=args.safe)
    request = urllib.request.Request(f"{args.url}?{query}", data=body, headers={"Content-Type": "text/xml"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            reply = account.open_reply(response.read().decode(), safe=args.safe)
    except urllib.error.HTTPError as error:
        print(f"服务器拒绝：HTTP {error.code}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"连不上 {args.url}（{error.reason}）。先运行 make run。", file=sys.stderr)
        return 1
    print(reply.get("Content") or "（服务器回复 success，没有消息）")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
