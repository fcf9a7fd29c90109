"""Per-project limits from Keystone's unified limits, read through oslo.limit as Glance does.

A trainee sets them with `openstack registered limit create --service image ...` and
`openstack limit create --project demo ...`; [oslo_limit] names the glance user and the
image endpoint (endpoint_id). As in Glance, a resource with no registered limit has a
limit of 0, and -1 means unlimited. Limits are read fresh for each decision (no cache),
so a change in Keystone holds at once.
"""

from __future__ import annotations

import logging
import threading

from glancelab import errors
from glancelab.conf import Config

LOG = logging.getLogger(__name__)
_configured = threading.Lock()


class KeystoneLimits:
    def __init__(self, config: Config):
        from oslo_limit import limit, opts
        with _configured:
            # oslo.limit reads its section from one process-wide ConfigOpts (Glance's
            # cfg.CONF); ours is the one glance-api.conf was loaded into.
            limit.CONF = opts.CONF = config.oslo
            opts.register_opts(config.oslo)
        self._limit = limit

    def limits(self, project_id: str, resources) -> dict[str, int]:
        try:
            enforcer = self._limit.Enforcer(lambda project, names: {}, cache=False)
            return dict(enforcer.get_project_limits(project_id, list(resources)))
        except Exception as exc:  # keystoneauth's connection and HTTP errors
            LOG.warning("reading unified limits failed: %s", exc)
            raise errors.unavailable(
                "The image service cannot read this project's limits from Keystone (unified "
                f"limits, [oslo_limit]): {exc}. Retry when Keystone answers.") from None
