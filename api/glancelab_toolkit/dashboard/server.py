"""`glancelab dashboard`: the pages served by one process (sessions live in it), by a
bounded pool of threads; a client that sends nothing for a while is cut off, so slow or
idle connections cannot hold the pool."""

from __future__ import annotations

import concurrent.futures
import ipaddress
import sys
from wsgiref import simple_server

from glancelab_toolkit.dashboard.app import create_app


THREADS = 16
IDLE_SECONDS = 10


class _Server(simple_server.WSGIServer):
    """Each connection handled by a thread of a fixed pool (more wait their turn)."""

    pool = concurrent.futures.ThreadPoolExecutor(THREADS, thread_name_prefix="dashboard")

    def process_request(self, request, client_address):
        self.pool.submit(self._handle, request, client_address)

    def _handle(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except OSError:  # a client that went away, or sent nothing for IDLE_SECONDS
            pass
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


class _QuietHandler(simple_server.WSGIRequestHandler):
    timeout = IDLE_SECONDS  # a read that waits this long ends the connection

    def log_message(self, format, *args):  # one line a request, without the query string
        sys.stderr.write(f"{self.address_string()} {self.command} "
                         f"{self.path.split('?', 1)[0]} {args[1] if len(args) > 1 else ''}\n")


def serve(api_url: str, keystone_url: str | None, host: str, port: int,
          cache_nodes: list[str] | None = None, lab_homes: str | None = None,
          https: bool = False) -> int:
    if keystone_url is None and not _loopback(host):
        print(f"glancelab dashboard: without --keystone-url nobody logs in, so it listens on "
              f"loopback only, not {host}", file=sys.stderr)
        return 2
    app = create_app(api_url, keystone_url, secure_cookies=https, cache_nodes=cache_nodes,
                     lab_homes=lab_homes, lab_actions=_loopback(host))
    with simple_server.make_server(host, port, app, server_class=_Server,
                                   handler_class=_QuietHandler) as server:
        print(f"glancelab dashboard on http://{host}:{port}/ (API {api_url}"
              + (f", Keystone {keystone_url})" if keystone_url else ", no login)"), flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def from_config(path: str) -> dict[str, str | None]:
    """The API and the Keystone a node's glance-api.conf names: where it listens (a
    wildcard address is reached on loopback), and [keystone_authtoken]'s
    www_authenticate_uri when it asks Keystone ('' for noauth)."""
    import configparser
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(path)
    host = parser.get("DEFAULT", "bind_host", fallback="127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    api_url = f"http://{host}:{parser.get('DEFAULT', 'bind_port', fallback='9292')}"
    keystone_url = ""
    # unset, as glancelab reads it: keystone when [paste_deploy] flavor says so
    strategy = parser.get("DEFAULT", "auth_strategy", fallback="") or (
        "keystone" if parser.get("paste_deploy", "flavor", fallback="") == "keystone"
        else "noauth")
    if strategy == "keystone":
        keystone_url = parser.get("keystone_authtoken", "www_authenticate_uri",
                                  fallback="").rstrip("/")
        if keystone_url and not keystone_url.endswith("/v3"):
            keystone_url += "/v3"
    return {"api_url": api_url, "keystone_url": keystone_url or None}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
