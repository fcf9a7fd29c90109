"""HAProxy in front of two nodes: TLS with the self-made certificate, both nodes used,
a node whose /healthcheck fails taken out of rotation and brought back."""

import time

CA = "/etc/haproxy/tls/glance-api.crt"


def _url(host) -> str:
    return f"https://{host.ansible.get_variables()['ansible_host']}:9292"


def _who(host) -> str:
    return host.check_output(f"curl -sf --cacert {CA} {_url(host)}/whoami")


def test_config_and_certificate(host):
    config = host.file("/etc/haproxy/haproxy.cfg")
    assert config.contains("option httpchk GET /healthcheck")
    assert config.contains("timeout http-request 10s")
    assert config.contains("server node-a ")
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0
    pem = host.file("/etc/haproxy/tls/glance-api.pem")
    assert (pem.user, pem.mode) == ("root", 0o600)
    san = host.check_output(f"openssl x509 -in {CA} -noout -ext subjectAltName")
    assert f"IP Address:{host.ansible.get_variables()['ansible_host']}" in san


def test_requests_reach_both_nodes_over_tls(host):
    seen = {_who(host) for _ in range(8)}
    assert seen == {"node-a", "node-b"}
    # plain HTTP is not served on the TLS port
    assert host.run(f"curl -sf http://{host.ansible.get_variables()['ansible_host']}:9292/whoami").rc != 0


def test_a_failing_health_check_takes_a_node_out(host):
    host.run("mv /srv/node-a/healthcheck /srv/node-a/healthcheck.off")
    try:
        time.sleep(2)  # two failed checks, 0.5 s apart
        assert {_who(host) for _ in range(8)} == {"node-b"}
    finally:
        host.run("mv /srv/node-a/healthcheck.off /srv/node-a/healthcheck")
    time.sleep(1.5)
    assert {_who(host) for _ in range(8)} == {"node-a", "node-b"}


def test_every_check_failing_still_reaches_the_nodes(host):
    """A shared dependency down fails every node's check: the nodes still answer."""
    host.run("mv /srv/node-a/healthcheck /srv/node-a/healthcheck.off")
    host.run("mv /srv/node-b/healthcheck /srv/node-b/healthcheck.off")
    try:
        time.sleep(2)
        assert {_who(host) for _ in range(8)} == {"node-a", "node-b"}
    finally:
        host.run("mv /srv/node-a/healthcheck.off /srv/node-a/healthcheck")
        host.run("mv /srv/node-b/healthcheck.off /srv/node-b/healthcheck")
