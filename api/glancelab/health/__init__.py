"""/healthcheck: oslo.middleware's Healthcheck beside the API, with glancelab's checks of the
database and the default store, and ?detailed for admins."""
