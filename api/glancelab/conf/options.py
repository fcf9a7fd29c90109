"""Every option glancelab reads, declared once, with Glance 33's and glance_store's names.

Types, defaults and bounds follow Glance's own declarations; where glancelab departs, a
comment says why (safe defaults for a one-machine try-out, sizes with units). Nothing
else in the code names a section or a key as a string: it reads typed values from here.
"""

from __future__ import annotations

import re

from oslo_config import cfg, types
from oslo_middleware import cors as cors_middleware
from oslo_middleware.healthcheck import opts as healthcheck_opts

# -- value types --------------------------------------------------------------------------

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


class Size(types.ConfigType):
    """Bytes from '1073741824', '10GB', '512 MB' (1024-based, as Glance's user_storage_quota)."""

    def __init__(self, min: int = 0, max: int | None = None):
        super().__init__(type_name="size")
        self.min, self.max = min, max

    def __call__(self, value):
        if isinstance(value, int):
            size = value
        else:
            match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?B)?\s*", str(value).upper())
            if not match:
                raise ValueError(f"{value!r} is not a size: use bytes or a number with B, KB, "
                                 "MB, GB or TB")
            size = int(match.group(1)) * _SIZE_UNITS[match.group(2) or ""]
        if size < self.min or (self.max is not None and size > self.max):
            raise ValueError(f"{value!r} is out of range ({self.min} to {self.max} bytes)")
        return size

    def _formatter(self, value):
        return str(value)


class List(types.List):
    """oslo.config's list that also reads Glance's bracketed form: `[a,b]` as `a,b`, `[]` empty.

    Glance declares some lists with bounds (enabled_import_methods) and some without
    (allowed_ports); operators write both forms for both, so both are read.
    """

    def __call__(self, value):
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                value = stripped[1:-1]
        return super().__call__(value)


def _list(name: str, default, help: str, item_type=None, **kwargs) -> cfg.Opt:
    return cfg.Opt(name, type=List(item_type=item_type), default=default, help=help, **kwargs)


def _size(name: str, default: int, help: str, max: int | None = None) -> cfg.Opt:
    return cfg.Opt(name, type=Size(max=max), default=default, help=help)


# -- [DEFAULT] ----------------------------------------------------------------------------

DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
# keystone: tokens validated by keystonemiddleware. noauth: one default identity (try-out).
# trusted-proxy: identity headers set by a validating proxy in front are believed.
AUTH_STRATEGIES = ("noauth", "keystone", "trusted-proxy")

DEFAULT_OPTS = [
    # Glance binds 0.0.0.0; glancelab's default is loopback so a try-out is never exposed.
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address to listen on."),
    cfg.PortOpt("bind_port", default=9292, help="Port to listen on."),
    cfg.IntOpt("workers", default=2, min=1, help="API worker processes."),
    cfg.IntOpt("client_socket_timeout", default=900, min=0,
               help="Seconds a client may send or take nothing before its request is "
                    "dropped (an upload goes back to queued); 0 waits forever."),
    # Unset: keystone when [paste_deploy] flavor says so, otherwise noauth.
    cfg.StrOpt("auth_strategy", choices=AUTH_STRATEGIES,
               help="keystone (tokens checked with Keystone), noauth (every caller acts as "
                    "[glancelab] noauth_*; loopback only) or trusted-proxy."),
    cfg.IntOpt("limit_param_default", default=25, min=1,
               help="Items a list returns when the request gives no limit."),
    cfg.IntOpt("api_limit_max", default=1000, min=1, help="Most items one list returns."),
    _size("image_size_cap", 1099511627776, "Largest image a user may upload, in bytes.",
          max=9223372036854775808),
    cfg.StrOpt("public_endpoint", help="The URL clients reach the API at (for links)."),
    cfg.BoolOpt("show_image_direct_url", default=False,
                help="Show the direct_url of an image's first location."),
    cfg.BoolOpt("show_multiple_locations", default=False,
                help="Show and change all of an image's locations."),
    cfg.IntOpt("max_request_body_size", default=65536, min=1,
               help="Largest JSON body accepted, in bytes."),
    cfg.BoolOpt("debug", default=False, help="Log at debug level."),
    cfg.StrOpt("property_protection_file",
               help="INI file of who may create, read, update and delete which properties "
                    "(unset: no protections)."),
    cfg.StrOpt("property_protection_rule_format", default="roles",
               choices=("roles", "policies"),
               help="Whether property_protection_file names roles or policy rules."),
    _list("enabled_import_methods", ["glance-direct", "web-download", "copy-image"],
          "Interoperable import methods this API offers."),
    cfg.DictOpt("enabled_backends",
                help="Multi-store: NAME:TYPE pairs, each NAME a section of its own."),
    cfg.StrOpt("node_staging_uri",
               help="file:// directory where glance-direct data waits (single store)."),
    cfg.StrOpt("image_cache_dir", help="Turns the image cache on, in this directory."),
    cfg.StrOpt("image_cache_driver", default="sqlite",
               help="Cache metadata driver; glancelab always keeps a per-node SQLite file."),
    # An IntOpt of bytes in Glance; units are accepted too.
    _size("image_cache_max_size", 10 * 1024**3, "Size the cache pruner trims the cache to."),
    cfg.IntOpt("image_cache_stall_time", default=86400, min=0,
               help="Seconds after which an incomplete cache file is removed."),
    cfg.IntOpt("cache_prefetcher_interval", default=300, min=1,
               help="Seconds between runs of the API's own prefetcher."),
    cfg.StrOpt("worker_self_reference_url",
               help="This node's own URL, listed by GET /v2/cache/nodes/{image_id} for the "
                    "images it caches (default: http://bind_host:bind_port)."),
    _size("user_storage_quota", 0, "Bytes of image data a project may store (0: no limit)."),
    cfg.IntOpt("image_member_quota", default=128, min=-1, help="Members per image (-1: no limit)."),
    cfg.IntOpt("image_property_quota", default=128, min=-1,
               help="Extra properties per image (-1: no limit)."),
    cfg.IntOpt("image_tag_quota", default=128, min=-1, help="Tags per image (-1: no limit)."),
    cfg.IntOpt("image_location_quota", default=10, min=-1,
               help="Locations per image (-1: no limit)."),
    cfg.BoolOpt("use_keystone_limits", default=False, help="Enforce per-project limits."),
]

DATABASE_OPTS = [
    # Glance has no default; glancelab's embedded default is SQLite under ./var.
    cfg.StrOpt("connection", default="sqlite:///var/glance.sqlite", secret=True,
               help="sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB."),
    # oslo.db's names. A worker's connections are bounded by max_pool_size + max_overflow,
    # so a node's budget is workers x that (README): glancelab's max_overflow is 10, not
    # oslo.db's 50, so that three default nodes stay under PostgreSQL's 100 connections.
    cfg.IntOpt("max_pool_size", default=5, min=1,
               help="Connections a worker keeps open to the database between requests."),
    cfg.IntOpt("max_overflow", default=10, min=0,
               help="Further connections a worker may open under load; each is closed "
                    "when its request ends."),
    cfg.IntOpt("pool_timeout", default=10, min=1,
               help="Seconds a request waits for a free connection before it answers 503."),
    cfg.IntOpt("connection_recycle_time", default=3600, min=1,
               help="Seconds after which a connection is closed and replaced on its return."),
]

PASTE_DEPLOY_OPTS = [
    cfg.StrOpt("flavor", help="keystone here means auth_strategy = keystone."),
]

IMAGE_FORMAT_OPTS = [
    _list("disk_formats", DISK_FORMATS, "Disk formats images may have."),
    _list("container_formats", CONTAINER_FORMATS, "Container formats images may have."),
    cfg.BoolOpt("require_image_format_match", default=True,
                help="Refuse data whose format is not the image's disk_format."),
    _list("vmdk_allowed_types", ["streamOptimized", "monolithicSparse"],
          "VMDK create types accepted."),
]

_PORT = types.Integer(min=1, max=65535)
IMPORT_FILTERING_OPTS = [
    _list("allowed_schemes", ["http", "https"], "URL schemes web-download may fetch."),
    _list("disallowed_schemes", [], "URL schemes web-download refuses."),
    _list("allowed_hosts", [], "Hosts web-download may fetch from (empty: any)."),
    _list("disallowed_hosts", [], "Hosts web-download refuses."),
    _list("allowed_ports", [80, 443], "Ports web-download may fetch from.", item_type=_PORT),
    _list("disallowed_ports", [], "Ports web-download refuses.", item_type=_PORT),
]

# Import plugins (Glance reads these from glance-image-import.conf beside glance-api.conf).
IMPORT_PLUGINS = ("no_op", "inject_image_metadata", "image_conversion", "image_decompression")
IMAGE_IMPORT_OPTS = [
    _list("image_import_plugins", [], "Plugins an import runs on staged data, in order.",
          item_type=types.String(choices=IMPORT_PLUGINS)),
]
IMAGE_CONVERSION_OPTS = [
    cfg.StrOpt("output_format", default="raw", choices=("qcow2", "raw", "vmdk"),
               help="Disk format image_conversion turns imported images into."),
]
INJECT_METADATA_OPTS = [
    cfg.DictOpt("inject", default={}, help="Properties inject_image_metadata sets (k:v,...)."),
    _list("ignore_user_roles", ["admin"],
          "Roles whose imports get no injected properties."),
]

GLANCE_STORE_OPTS = [
    _list("stores", ["file", "http"], "Single store: the store types enabled."),
    cfg.StrOpt("default_store", default="file", help="Single store: where uploads go."),
    cfg.StrOpt("default_backend", help="Multi-store: the enabled_backends NAME uploads go to."),
]

# glancelab's own knobs, kept out of Glance's sections.
GLANCELAB_OPTS = [
    cfg.IntOpt("import_workers", default=2, min=1, help="Background import threads a worker."),
    # One project's slow sources must not hold every import thread (imports/runner.py).
    cfg.IntOpt("imports_per_project", default=0, min=0,
               help="Import threads of a worker one project may hold at once (0: all but "
                    "one, so another project's import always has a thread)."),
    cfg.IntOpt("web_download_min_rate", default=16384, min=0,
               help="Bytes per second a web-download source must keep up over each "
                    "web_download_rate_window (the task fails below it)."),
    cfg.FloatOpt("web_download_rate_window", default=60.0, min=1.0,
                 help="Seconds the web-download rate is measured over; also the longest "
                      "wait for any answer."),
    cfg.FloatOpt("web_download_deadline", default=21600.0, min=1.0,
                 help="Seconds a whole web-download may take."),
    # Each transfer holds a thread for as long as it lasts (a stalled client until
    # client_socket_timeout): enough that slow clients leave room for everyone else.
    cfg.IntOpt("threads", default=64, min=1, help="Request threads a worker."),
    cfg.StrOpt("noauth_project_id", default="admin", help="noauth: the caller's project."),
    cfg.StrOpt("noauth_user_id", default="admin", help="noauth: the caller's user."),
    _list("noauth_roles", ["admin", "member", "reader"], "noauth: the caller's roles."),
    # A file:// location is read with the service's own rights: only under these.
    _list("file_location_dirs", [],
          "Directories file:// locations may point into (none by default: file:// off)."),
    # noauth and trusted-proxy believe whoever connects: only on loopback unless said so.
    cfg.BoolOpt("allow_unauthenticated_network", default=False,
                help="Let noauth or trusted-proxy listen on a non-loopback bind_host."),
    cfg.StrOpt("log_format", default="json", choices=("json", "text"), help="Log line format."),
    # A list with many property or tag filters can cost the database seconds: bounded, so
    # it never runs on after its client gave up.
    cfg.FloatOpt("list_query_timeout", default=10.0, min=0.1,
                 help="Seconds a GET /v2/images query may run before it answers 503."),
    # Slow clients: a request's head is read by the worker's event loop, not a thread
    # (web/worker.py), and must arrive within client_header_timeout (nginx's
    # client_header_timeout, HAProxy's timeout http-request); a body must keep up
    # client_body_min_rate over each client_body_timeout window (mod_reqtimeout's MinRate).
    cfg.FloatOpt("client_header_timeout", default=20.0, min=1.0,
                 help="Seconds a client has to send a request line and headers (408 after)."),
    cfg.FloatOpt("client_body_timeout", default=20.0, min=1.0,
                 help="Seconds a small body may take, and the window a large body's "
                      "rate is measured over (408 after)."),
    cfg.IntOpt("client_body_min_rate", default=500, min=0,
               help="Bytes per second a request body must keep up (0: only a window "
                    "with no byte at all ends it)."),
]

LIMIT_RESOURCES = ("image_size_total", "image_stage_total", "image_count_total",
                   "image_count_uploading")
LIMITS_OPTS = [cfg.IntOpt(resource, default=-1, min=-1,
                          help=f"Default {resource} of every project (-1: no limit).")
               for resource in LIMIT_RESOURCES]

# -- store drivers (glance_store's names; registered per backend section) ----------------

STORE_COMMON_OPTS = [
    cfg.StrOpt("store_description", default="", help="What /v2/info/stores says of it."),
    cfg.IntOpt("weight", default=0, help="Location order: higher weights are read first."),
]

FILE_STORE_OPTS = [
    cfg.StrOpt("filesystem_store_datadir", help="Directory image files go in."),
    cfg.MultiStrOpt("filesystem_store_datadirs",
                    help="PATH:PRIORITY, repeated (or comma-separated); highest first."),
    cfg.IntOpt("filesystem_store_file_perm", default=0,
               help="Octal mode of image files (0: the process umask)."),
    cfg.IntOpt("filesystem_store_chunk_size", default=65536, min=1,
               help="Bytes read at a time."),
    cfg.StrOpt("filesystem_store_metadata_file", help="Accepted; glancelab does not use it."),
    cfg.BoolOpt("filesystem_thin_provisioning", default=False,
                help="Accepted; glancelab does not use it."),
]

SWIFT_STORE_OPTS = [
    cfg.StrOpt("swift_store_auth_address", help="Keystone or tempauth URL."),
    cfg.StrOpt("swift_store_user", help="USER, or PROJECT:USER for Keystone."),
    cfg.StrOpt("swift_store_key", secret=True, help="The user's password or key."),
    cfg.StrOpt("swift_store_auth_version", default="2", help="1 (tempauth), 2 or 3."),
    cfg.StrOpt("swift_store_container", default="glance", help="Container images go in."),
    cfg.BoolOpt("swift_store_create_container_on_put", default=False,
                help="Create the container when it is missing."),
    cfg.IntOpt("swift_store_large_object_size", default=5120, min=1,
               help="MB above which an image is uploaded in segments."),
    cfg.IntOpt("swift_store_large_object_chunk_size", default=200, min=1,
               help="MB in each segment."),
    cfg.StrOpt("swift_store_project_domain", default="default",
               help="Keystone v3 project domain."),
    cfg.StrOpt("swift_store_user_domain", default="default", help="Keystone v3 user domain."),
]

S3_STORE_OPTS = [
    cfg.StrOpt("s3_store_host", help="The S3 endpoint URL."),
    cfg.StrOpt("s3_store_access_key", secret=True, help="Access key."),
    cfg.StrOpt("s3_store_secret_key", secret=True, help="Secret key."),
    cfg.StrOpt("s3_store_bucket", help="Bucket images go in."),
    cfg.BoolOpt("s3_store_create_bucket_on_put", default=False,
                help="Create the bucket when it is missing."),
    cfg.StrOpt("s3_store_bucket_url_format", default="auto",
               choices=("auto", "path", "virtual"), help="Bucket addressing style."),
    cfg.IntOpt("s3_store_large_object_size", default=100, min=1,
               help="MB above which an image is uploaded in parts."),
    cfg.IntOpt("s3_store_large_object_chunk_size", default=10, min=5, help="MB in each part."),
    cfg.IntOpt("s3_store_thread_pools", default=10, min=1, help="Parts sent at once."),
    cfg.StrOpt("s3_store_region_name", default="", help="Region (empty: us-east-1)."),
]

RBD_STORE_OPTS = [
    cfg.StrOpt("rbd_store_pool", default="images", help="RADOS pool images go in."),
    cfg.StrOpt("rbd_store_user", help="Ceph client name without 'client.' (its keyring is "
                                      "found through ceph.conf); empty: librados's default."),
    cfg.StrOpt("rbd_store_ceph_conf", default="/etc/ceph/ceph.conf",
               help="ceph.conf of the cluster (monitors, keyring path)."),
    cfg.IntOpt("rbd_store_chunk_size", default=8, min=1,
               help="MiB: the RADOS object size of each image, and the unit it is written "
                    "and read in (a power of two)."),
    # Glance's default 0 leaves librados's client_mount_timeout (300 s): a dead cluster
    # would hold a request for five minutes before its 503.
    cfg.IntOpt("rados_connect_timeout", default=10, min=0,
               help="Seconds to reach the monitors; 0: librados's client_mount_timeout."),
    cfg.BoolOpt("rbd_thin_provisioning", default=False,
                help="Skip writing chunks of zeros (the image stays sparse)."),
]

HTTP_STORE_OPTS = [
    cfg.BoolOpt("https_insecure", default=True, help="Accepted; glancelab does not use it."),
    cfg.StrOpt("https_ca_certificates_file", help="Accepted; glancelab does not use it."),
]

DRIVER_OPTS = {"file": FILE_STORE_OPTS, "swift": SWIFT_STORE_OPTS, "s3": S3_STORE_OPTS,
               "rbd": RBD_STORE_OPTS, "http": HTTP_STORE_OPTS}

# Glance's reserved stores: only a directory.
RESERVED_STORES = ("os_glance_staging_store", "os_glance_tasks_store")

# [healthcheck]: oslo.middleware's own options (Glance's /healthcheck is that middleware),
# with the values Glance's paste file gives them: drain a node by creating the file.
HEALTHCHECK_OPTS = [*healthcheck_opts.HEALTHCHECK_OPTS, *healthcheck_opts.DISABLE_BY_FILE_OPTS]
HEALTHCHECK_DEFAULTS = {"backends": ["disable_by_file"],
                        "disable_by_file_path": "/etc/glance/healthcheck_disable"}

# [cors]: oslo.middleware's CORS filter, Glance's own (outermost in its paste pipeline),
# with the headers and methods Glance allows by default.
CORS_OPTS = cors_middleware.CORS_OPTS
CORS_DEFAULTS = {
    "allow_headers": ["Content-MD5", "X-Image-Meta-Checksum", "X-Storage-Token",
                      "Accept-Encoding", "X-Auth-Token", "X-Identity-Status", "X-Roles",
                      "X-Service-Catalog", "X-User-Id", "X-Tenant-Id",
                      "X-OpenStack-Request-ID"],
    "expose_headers": ["X-Image-Meta-Checksum", "X-Auth-Token", "X-Subject-Token",
                       "X-Service-Token", "X-OpenStack-Request-ID"],
    "allow_methods": ["GET", "PUT", "POST", "DELETE", "PATCH"],
}

GROUPS = {
    "DEFAULT": DEFAULT_OPTS,
    "database": DATABASE_OPTS,
    "paste_deploy": PASTE_DEPLOY_OPTS,
    "image_format": IMAGE_FORMAT_OPTS,
    "import_filtering_opts": IMPORT_FILTERING_OPTS,
    "image_import_opts": IMAGE_IMPORT_OPTS,
    "image_conversion": IMAGE_CONVERSION_OPTS,
    "inject_metadata_properties": INJECT_METADATA_OPTS,
    "glance_store": GLANCE_STORE_OPTS,
    "glancelab": GLANCELAB_OPTS,
    "glancelab_limits": LIMITS_OPTS,
    "healthcheck": HEALTHCHECK_OPTS,
    "cors": CORS_OPTS,
}

# Sections the libraries Glance and glancelab share read themselves, with options of their
# own (keystonemiddleware, its auth plugin, oslo.policy, oslo.limit).
LIBRARY_SECTIONS = ("keystone_authtoken", "oslo_policy", "oslo_limit")

# Sections real Glance reads that glancelab accepts and does not use (yet): `config check`
# names them as such instead of as typos.
GLANCE_ONLY_SECTIONS = (
    "oslo_messaging_notifications",
    "oslo_messaging_rabbit", "oslo_middleware", "oslo_concurrency", "profiler", "wsgi",
    "taskflow_executor", "task", "store_type_location_strategy", "key_manager", "barbican",
    "oslo_reports",
    "glance.store.http.store", "cinder", "vmware", "swift",
)
GLANCE_ONLY_DEFAULT_KEYS = (
    "log_file", "log_dir", "use_syslog", "use_journal", "use_json", "use_stderr",
    "logging_context_format_string", "logging_default_format_string",
    "logging_exception_prefix", "logging_user_identity_format", "default_log_levels",
    "transport_url", "enabled_apis", "enable_v2_api", "enable_v1_api", "registry_host",
    "hashing_algorithm", "enforce_secure_rbac", "my_ip",
    "host", "state_path", "lock_path", "http_keepalive",
    "delayed_delete", "scrub_time", "location_strategy",
    "do_secure_hash", "http_retries", "publish_errors",
    "instance_format", "instance_uuid_format", "rate_limit_burst", "rate_limit_interval",
    "config_file", "config_dir",
)
