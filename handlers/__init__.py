"""Behaviour: who may do what, conversations, commands. Knows no web framework, platform or queue."""
