"""The only code that knows WeChat and WeCom: verify, decrypt, parse, reply, deliver."""
