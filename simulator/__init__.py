"""The local stand-in for Tencent's servers. It shares no code with the app: only the wire formats."""
