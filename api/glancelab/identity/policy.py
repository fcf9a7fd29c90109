"""Glance's policy engine: oslo.policy with Glance 33's rule names and secure-RBAC defaults.

Every permission check in the API is one of these rules, enforced against the caller's
credentials and a target (the image, namespace or project concerned), so an operator's
policy.yaml from Glance (`[oslo_policy] policy_file`) changes glancelab's behaviour the way
it changes Glance's. glancelab-only operations (the per-project limits API) have rules of
their own, admin-only by default.
"""

from __future__ import annotations

import logging
import threading
import time

from oslo_policy import policy

from glancelab.conf import Config

LOG = logging.getLogger(__name__)

# Glance's base check strings (glance/policies/base.py).
ADMIN = "rule:context_is_admin"
SERVICE = "rule:service_api"
ADMIN_OR_PROJECT_MEMBER = f"{ADMIN} or (role:member and project_id:%(project_id)s)"
ADMIN_OR_PROJECT_READER = f"{ADMIN} or (role:reader and project_id:%(project_id)s)"
_SEEN = ("project_id:%(project_id)s or project_id:%(member_id)s or "
         "'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s")
ADMIN_OR_PROJECT_READER_GET_IMAGE = f"{ADMIN} or (role:reader and ({_SEEN}))"
ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE = f"{ADMIN} or (role:member and ({_SEEN}))"
ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER = (
    f"{ADMIN} or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)")
ADMIN_OR_SHARED_MEMBER = f"{ADMIN} or (role:member and project_id:%(member_id)s)"
ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE = (
    f"{ADMIN} or (role:member and project_id:%(project_id)s and project_id:%(owner)s)")
ADMIN_OR_SERVICE_ROLE = f"{ADMIN} or {SERVICE}"
METADEF_READER = f"{ADMIN} or (role:reader and (project_id:%(project_id)s or "\
                 "'public':%(visibility)s))"
METADEF_ADMIN = "rule:metadef_admin"

RULES: list[tuple[str, str, str]] = [
    ("default", "", ""),
    ("context_is_admin", "role:admin", "Who is an admin: sees every image, may do anything."),
    ("service_api", "role:service or role:admin", "Other OpenStack services acting for users."),
    # images
    ("add_image", ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE, "POST /v2/images"),
    ("delete_image", ADMIN_OR_PROJECT_MEMBER, "DELETE /v2/images/{image_id}"),
    ("get_image", ADMIN_OR_PROJECT_READER_GET_IMAGE, "GET /v2/images/{image_id}"),
    ("get_images", ADMIN_OR_PROJECT_READER, "GET /v2/images"),
    ("modify_image", ADMIN_OR_PROJECT_MEMBER, "PATCH /v2/images/{image_id}"),
    ("publicize_image", ADMIN, "visibility public"),
    ("communitize_image", ADMIN_OR_PROJECT_MEMBER, "visibility community"),
    ("download_image", ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE, "GET /v2/images/{image_id}/file"),
    ("download_from_store", ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE,
     "GET /v2/images/{image_id}/file?prefer=STORES"),
    ("upload_image", ADMIN_OR_PROJECT_MEMBER, "PUT /v2/images/{image_id}/file"),
    ("delete_image_location", ADMIN, "DELETE /v2/stores/{store_id}/{image_id}"),
    ("get_image_location", ADMIN_OR_PROJECT_READER, "locations in GET /v2/images/{image_id}"),
    # Glance lets the owner's members add and set locations too; a location is read with
    # the service's own rights (a file under file_location_dirs, a URL from this host), so
    # glancelab keeps both to admins and services by default. policy.yaml can widen them.
    ("set_image_location", ADMIN_OR_SERVICE_ROLE, "PATCH /locations"),
    ("add_image_location", ADMIN_OR_SERVICE_ROLE, "POST /v2/images/{image_id}/locations"),
    ("fetch_image_location", SERVICE, "GET /v2/images/{image_id}/locations"),
    ("deactivate", ADMIN_OR_PROJECT_MEMBER, "POST /v2/images/{image_id}/actions/deactivate"),
    ("reactivate", ADMIN_OR_PROJECT_MEMBER, "POST /v2/images/{image_id}/actions/reactivate"),
    ("copy_image", ADMIN, "POST /v2/images/{image_id}/import (copy-image)"),
    ("stores_info_detail", ADMIN_OR_SERVICE_ROLE, "GET /v2/info/stores/detail"),
    # members
    ("add_member", ADMIN_OR_PROJECT_MEMBER, "POST /v2/images/{image_id}/members"),
    ("delete_member", ADMIN_OR_PROJECT_MEMBER, "DELETE /v2/images/{image_id}/members/{member_id}"),
    ("get_member", ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER,
     "GET /v2/images/{image_id}/members/{member_id}"),
    ("get_members", ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER, "GET /v2/images/{image_id}/members"),
    ("modify_member", ADMIN_OR_SHARED_MEMBER, "PUT /v2/images/{image_id}/members/{member_id}"),
    # cache
    ("manage_image_cache", ADMIN, ""),
    ("cache_image", ADMIN, "PUT /v2/cache/{image_id}"),
    ("cache_list", ADMIN, "GET /v2/cache"),
    ("cache_delete", ADMIN, "DELETE /v2/cache, DELETE /v2/cache/{image_id}"),
    ("list_cached_nodes", ADMIN, "GET /v2/cache/nodes/{image_id}"),
    ("cache_clean", ADMIN, "POST /v2/cache/clean"),
    ("cache_prune", ADMIN, "POST /v2/cache/prune"),
    # tasks
    ("get_task", "rule:default", "GET /v2/tasks/{task_id}"),
    ("get_tasks", "rule:default", "GET /v2/tasks"),
    ("tasks_api_access", ADMIN, "GET /v2/tasks, GET /v2/tasks/{task_id}"),
    # metadata definitions
    ("metadef_default", "", ""),
    ("metadef_admin", ADMIN, ""),
    ("get_metadef_namespace", METADEF_READER, "GET /v2/metadefs/namespaces/{namespace_name}"),
    ("get_metadef_namespaces", ADMIN_OR_PROJECT_READER, "GET /v2/metadefs/namespaces"),
    ("modify_metadef_namespace", METADEF_ADMIN, "PUT /v2/metadefs/namespaces/{namespace_name}"),
    ("add_metadef_namespace", METADEF_ADMIN, "POST /v2/metadefs/namespaces"),
    ("delete_metadef_namespace", METADEF_ADMIN, "DELETE /v2/metadefs/namespaces/{namespace_name}"),
    ("get_metadef_object", METADEF_READER, "GET …/objects/{object_name}"),
    ("get_metadef_objects", METADEF_READER, "GET …/objects"),
    ("modify_metadef_object", METADEF_ADMIN, "PUT …/objects/{object_name}"),
    ("add_metadef_object", METADEF_ADMIN, "POST …/objects"),
    ("delete_metadef_object", METADEF_ADMIN, "DELETE …/objects/{object_name}"),
    ("list_metadef_resource_types", METADEF_READER, "GET /v2/metadefs/resource_types"),
    ("get_metadef_resource_type", METADEF_READER, "GET …/resource_types"),
    ("add_metadef_resource_type_association", METADEF_ADMIN, "POST …/resource_types"),
    ("remove_metadef_resource_type_association", METADEF_ADMIN, "DELETE …/resource_types/{name}"),
    ("get_metadef_property", METADEF_READER, "GET …/properties/{property_name}"),
    ("get_metadef_properties", METADEF_READER, "GET …/properties"),
    ("modify_metadef_property", METADEF_ADMIN, "PUT …/properties/{property_name}"),
    ("add_metadef_property", METADEF_ADMIN, "POST …/properties"),
    ("remove_metadef_property", METADEF_ADMIN, "DELETE …/properties/{property_name}"),
    ("get_metadef_tag", METADEF_READER, "GET …/tags/{tag_name}"),
    ("get_metadef_tags", METADEF_READER, "GET …/tags"),
    ("modify_metadef_tag", METADEF_ADMIN, "PUT …/tags/{tag_name}"),
    ("add_metadef_tag", METADEF_ADMIN, "POST …/tags/{tag_name}"),
    ("add_metadef_tags", METADEF_ADMIN, "POST …/tags"),
    ("delete_metadef_tag", METADEF_ADMIN, "DELETE …/tags/{tag_name}"),
    ("delete_metadef_tags", METADEF_ADMIN, "DELETE …/tags"),
    # glancelab's own: the per-project limits API (Glance reads them from Keystone only)
    ("get_usage", ADMIN_OR_PROJECT_READER, "GET /v2/info/usage"),
    ("list_limits", ADMIN, "GET /v2/quotas"),
    ("get_limits", ADMIN, "GET /v2/quotas/{project_id}"),
    ("set_limits", ADMIN, "PUT /v2/quotas/{project_id}"),
    ("delete_limits", ADMIN, "DELETE /v2/quotas/{project_id}"),
]


class _Enforcer(policy.Enforcer):
    """oslo.policy's enforcer, looking for a changed policy file at most once a second.

    oslo.policy looks for the file (every config dir searched, the file stat'ed) on every
    check, several times per request: half of a GET's time went there. An edit still
    applies within a second. A file edited into something invalid while running keeps the
    last good rules in force (oslo.policy will not re-read that version again) and says
    so; at start, with no rules yet, it is an error.
    """

    RECHECK_SECONDS = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._checked_at: float | None = None
        self._lock = threading.Lock()
        # Decisions already taken under the rules in force: a rule's answer depends only
        # on the rule, the target and the credentials. Emptied whenever rules change.
        self.decisions: dict[tuple, bool] = {}

    def set_rules(self, *args, **kwargs) -> None:
        self.decisions = {}
        super().set_rules(*args, **kwargs)

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if (not force_reload and self._checked_at is not None
                and now - self._checked_at < self.RECHECK_SECONDS):
            return
        with self._lock:
            try:
                super().load_rules(force_reload)
            except Exception as exc:  # noqa: BLE001 - YAML, JSON and rule errors alike
                if self._checked_at is None:
                    raise
                LOG.error("policy file unreadable; the last good rules stay in force until "
                          "it is fixed: %s", exc)
            self._checked_at = now


class Policy:
    """One enforcer per process, reading the operator's policy file as Glance does."""

    def __init__(self, config: Config):
        self.enforcer = _Enforcer(config.oslo, use_conf=True, overwrite=False)
        self.enforcer.register_defaults([
            policy.RuleDefault(name, check, description=operations)
            for name, check, operations in RULES])

    def load(self) -> None:
        """Read the policy file now, so a broken one stops the start, not a request."""
        self.enforcer.load_rules(force_reload=True)

    def allows(self, rule: str, target: dict, credentials: dict) -> bool:
        enforcer = self.enforcer
        enforcer.load_rules()  # at most once a second; a change empties the decisions
        key = (rule, _frozen(target), _frozen(credentials))
        decisions = enforcer.decisions
        decided = decisions.get(key)
        if decided is None:
            decided = bool(enforcer.enforce(rule, target, credentials))
            if len(decisions) >= MAX_DECISIONS:
                decisions.clear()  # bounded: many images and callers come and go
            decisions[key] = decided
        return decided


MAX_DECISIONS = 20000


def _frozen(values: dict) -> tuple:
    return tuple((key, tuple(value) if isinstance(value, (list, set, frozenset)) else value)
                 for key, value in sorted(values.items()))
