"""`glancelab dashboard`: the pages served by one process (sessions live in it), a thread
a request."""

from __future__ import annotations

import ipaddress
import socketserver
import sys
from wsgiref import simple_server

from glancelab_toolkit.dashboard.app import create_app


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):  # one line a request, without the query string
        sys.stderr.write(f"{self.address_string()} {self.command} "
                         f"{self.path.split('?', 1)[0]} {args[1] if len(args) > 1 else ''}\n")


def serve(api_url: str, keystone_url: str | None, host: str, port: int,
          cache_nodes: list[str] | None = None, lab_homes: str | None = None) -> int:
    if keystone_url is None and not _loopback(host):
        print(f"glancelab dashboard: without --keystone-url nobody logs in, so it listens on "
              f"loopback only, not {host}", file=sys.stderr)
        return 2
    app = create_app(api_url, keystone_url, cache_nodes=cache_nodes, lab_homes=lab_homes,
                     lab_actions=_loopback(host))
    with simple_server.make_server(host, port, app, server_class=_Server,
                                   handler_class=_QuietHandler) as server:
        print(f"glancelab dashboard on http://{host}:{port}/ (API {api_url}"
              + (f", Keystone {keystone_url})" if keystone_url else ", no login)"), flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
