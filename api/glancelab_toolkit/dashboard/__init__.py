"""`glancelab dashboard`: web pages over a Glance Images API v2, with the user's own
identity, as Horizon and Skyline do (so it works against glancelab and a real Glance).

`identity.py` logs in (keystoneauth) and keeps sessions server-side, `glance.py` asks the
API, `pages.py` answers the browser (Jinja2 templates, both languages), `server.py` serves.
"""
