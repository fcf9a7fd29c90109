"""Lab 2.8 checks, on each node: requests sent through HAProxy reach it, and a node whose
drain file exists leaves rotation (the grader drains it for a moment, then puts it back)."""

import re
import time

from conftest import API_LOG, Api, Hint, check, expect, name_of, need

from glancelab_toolkit.i18n import _

PORT = 9191
DRAIN_FILE = "/etc/glance/healthcheck_disable"
CONFIG = "/etc/haproxy/haproxy.cfg"
TRIES = 8


def balancer(host) -> str:
    hosts = host.ansible.get_variables()["lab_hosts"]
    return f"http://{hosts[sorted(hosts)[0]]}:{PORT}"


def through_balancer(host, api: Api) -> list[str]:
    """The request ids of TRIES requests sent through HAProxy from this host."""
    url = balancer(host)
    ids = []
    for _attempt in range(TRIES):
        answer = host.run(f"curl -s -m 10 -o /dev/null -D - -H 'X-Auth-Token: "
                          f"{api.keystone.token()}' '{url}/v2/images?limit=1'")
        found = re.search(r"(?im)^x-openstack-request-id:\s*(\S+)", answer.stdout)
        if answer.rc != 0 or not found:
            first = sorted(host.ansible.get_variables()["lab_hosts"])[0]
            raise Hint(_("nothing answers on the balancer {url}").format(url=url),
                       _("on {host}: {command}   (the guide has a {file} to start from)")
                       .format(host=first, command=f"haproxy -c -f {CONFIG} && "
                               "/etc/init.d/haproxy start", file=CONFIG),
                       _("`haproxy -c -f {file}` checks the file; `/etc/init.d/haproxy status` "
                         "says whether it runs").format(file=CONFIG))
        ids.append(found.group(1))
    return ids


def served_here(host, ids: list[str]) -> int:
    pattern = "|".join(ids)
    return int(host.run(f"grep -cE '{pattern}' {API_LOG}").stdout.strip() or 0)


def need_not_drained(host) -> None:
    """A drained node is the trainee's doing: left as it is, and nothing more is checked
    (the grader's own drain would remove the trainee's file afterwards)."""
    name = name_of(host)
    need(not host.file(DRAIN_FILE).exists,
           _("{host} is drained: {path} exists").format(host=name, path=DRAIN_FILE),
           f"rm {DRAIN_FILE}   " + _("(on {host}, once you have watched it leave rotation)")
           .format(host=name),
           _("a node whose drain file exists answers 503 on /healthcheck"))


@check(step=2, title=_("requests through HAProxy reach this node"))
def test_requests_through_haproxy_reach_this_node(host):
    name = name_of(host)
    need_not_drained(host)
    api = Api(host)
    ids = through_balancer(host, api)
    expect(served_here(host, ids) > 0,
           _("none of {count} requests sent through HAProxy reached {host}").format(
               count=TRIES, host=name),
           _("in {file}, add `{line}` to the backend, then {command}").format(
               file=CONFIG, line=f"server {name} <its address>:9292 check",
               command="/etc/init.d/haproxy reload"),
           _("the backend of {file} lists the nodes HAProxy sends to").format(file=CONFIG))


@check(step=4, title=_("a drained node leaves rotation"))
def test_a_drained_node_leaves_rotation(host):
    name = name_of(host)
    # drained by the trainee: left as it is (the grader only removes what it created)
    need_not_drained(host)
    api = Api(host)
    through_balancer(host, api)  # the balancer answers at all
    host.run(f"touch {DRAIN_FILE}")
    try:
        still = TRIES
        for _attempt in range(10):  # HAProxy needs a few checks to see it
            time.sleep(1)
            still = served_here(host, through_balancer(host, api))
            if still == 0:
                break
    finally:
        host.run(f"rm -f {DRAIN_FILE}")
    expect(still == 0, _("with {path} present on {host} (its /healthcheck answering 503), "
                         "requests through HAProxy still reached it: HAProxy does not check "
                         "/healthcheck").format(path=DRAIN_FILE, host=name),
           _("in the backend of {file}: {lines}, and `check` on each server line; then "
             "{command}").format(file=CONFIG, lines="`option httpchk GET /healthcheck`, "
                                 "`http-check expect status 200`",
                                 command="/etc/init.d/haproxy reload"),
           _("HAProxy takes a node out when its health check fails: which URL does it ask?"))
