"""Lab 2.8 checks, on each node: requests sent through HAProxy reach it, and a node whose
drain file exists leaves rotation (the grader drains it for a moment, then puts it back)."""

import re
import time

from conftest import API_LOG, Api, Hint, expect, name_of

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
    for _ in range(TRIES):
        answer = host.run(f"curl -s -m 10 -o /dev/null -D - -H 'X-Auth-Token: "
                          f"{api.keystone.token()}' '{url}/v2/images?limit=1'")
        found = re.search(r"(?im)^x-openstack-request-id:\s*(\S+)", answer.stdout)
        if answer.rc != 0 or not found:
            raise Hint(f"nothing answers on the balancer {url}",
                       f"on {sorted(host.ansible.get_variables()['lab_hosts'])[0]}: haproxy -c "
                       f"-f {CONFIG} && /etc/init.d/haproxy start   (the guide has a "
                       f"{CONFIG} to start from)")
        ids.append(found.group(1))
    return ids


def served_here(host, ids: list[str]) -> int:
    pattern = "|".join(ids)
    return int(host.run(f"grep -cE '{pattern}' {API_LOG}").stdout.strip() or 0)


def test_requests_through_haproxy_reach_this_node(host):
    name = name_of(host)
    expect(not host.file(DRAIN_FILE).exists, f"{name} is drained: {DRAIN_FILE} exists",
           f"rm {DRAIN_FILE}   (on {name}, once you have watched it leave rotation)")
    api = Api(host)
    ids = through_balancer(host, api)
    expect(served_here(host, ids) > 0, f"none of {TRIES} requests sent through HAProxy "
           f"reached {name}",
           f"in {CONFIG}, add `server {name} <its address>:9292 check` to the backend, "
           "then /etc/init.d/haproxy reload")


def test_a_drained_node_leaves_rotation(host):
    name = name_of(host)
    # drained by the trainee: left as it is (the grader only removes what it created)
    expect(not host.file(DRAIN_FILE).exists, f"{name} is drained: {DRAIN_FILE} exists",
           f"rm {DRAIN_FILE}   (on {name}, once you have watched it leave rotation)")
    api = Api(host)
    through_balancer(host, api)  # the balancer answers at all
    host.run(f"touch {DRAIN_FILE}")
    try:
        still = TRIES
        for _ in range(10):  # HAProxy needs a few checks to see it
            time.sleep(1)
            still = served_here(host, through_balancer(host, api))
            if still == 0:
                break
    finally:
        host.run(f"rm -f {DRAIN_FILE}")
    expect(still == 0, f"with {DRAIN_FILE} present on {name} (its /healthcheck answering "
           "503), requests through HAProxy still reached it: HAProxy does not check "
           "/healthcheck",
           f"in the backend of {CONFIG}: `option httpchk GET /healthcheck`, `http-check "
           "expect status 200`, and `check` on each server line; then /etc/init.d/haproxy "
           "reload")
