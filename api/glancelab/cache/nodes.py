"""Which nodes cache which image, kept in the shared metadata database.

Each node's cache is its own directory, but every node sees the one metadata database
(PostgreSQL past one machine), so each records there the images it holds under its own
reference URL, as Glance's centralized_db cache driver does. Failing to record never
fails caching: the index is advice for operators, the cache directory is the truth.
"""

from __future__ import annotations

import logging

from glancelab.db import briefly
from glancelab.db.models import CachedImageNode

LOG = logging.getLogger(__name__)


class NodeIndex:
    def __init__(self, node_reference_url: str):
        self.url = node_reference_url

    def holds(self, image_id: str) -> None:
        self._quietly("record", lambda: CachedImageNode.insert(
            image=image_id, node_reference_url=self.url).on_conflict_ignore().execute())

    def dropped(self, image_id: str) -> None:
        self._quietly("forget", lambda: CachedImageNode.delete().where(
            CachedImageNode.image == image_id,
            CachedImageNode.node_reference_url == self.url).execute())

    @staticmethod
    def nodes_of(image_id: str) -> list[str]:
        return [url for (url,) in CachedImageNode.select(CachedImageNode.node_reference_url)
                .where(CachedImageNode.image == image_id)
                .order_by(CachedImageNode.node_reference_url).tuples()]

    def _quietly(self, doing: str, change) -> None:
        try:
            with briefly():  # often after a download's last byte, past its request's end
                change()
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            LOG.warning("could not %s this node's cached image: %s", doing, exc)
