"""Cross-origin requests from browser apps (Horizon's direct upload, a dashboard on
another origin): oslo.middleware's CORS filter, outermost as in Glance's paste pipeline,
reading [cors] from the same configuration.

Without an allowed_origin the filter would allow nothing and only cost time on every
request, so it is left out then: the answers are the same.
"""

from __future__ import annotations

from oslo_middleware import cors

from glancelab.conf import Config


def allow_origins(app, config: Config):
    """`app`, answering preflights and adding CORS headers for the origins [cors] allows."""
    if not config.oslo.cors.allowed_origin:
        return app
    return cors.CORS(app, config.oslo)
