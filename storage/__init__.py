"""Tables and queries. Functions take a Session and never commit."""
