"""The glancelab toolkit: the labs, snapshot import and a small API client."""
