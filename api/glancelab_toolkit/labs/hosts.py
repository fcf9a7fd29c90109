"""A trainee's lab hosts (scripts/labhost), the services labs share, and the inventory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import yaml

from glancelab_toolkit.i18n import _
from glancelab_toolkit.labs.spec import Lab, LabError, all_labs, home
from glancelab_toolkit.labs.trainee import Trainee

# Servers labs use from their hosts, on 127.0.0.1 (the hosts share its network); the base
# port of slot 0, moved up for the other trainees' slots.
SERVICE_PORTS = {"keystone": 15000, "postgres": 15432, "s3": 18333, "ceph": 16789}
# Every lab's API asks Keystone, as real Glance does: one Keystone a trainee, which all their
# labs share (it stops when the last of their labs finishes).
SHARED_SERVICES = ("keystone",)


def labhost(trainee: Trainee | None, *args: str, check: bool = True, share: str = "",
            layer: str = "") -> subprocess.CompletedProcess:
    """scripts/labhost; `share`: a directory of this machine the hosts it starts read where
    it is (the wheels, even under /tmp: no copy to each host); `layer`: what those hosts
    find installed from the start (`host_layer`)."""
    hosts_dir = {"GLANCELAB_LABHOSTS": trainee.hosts_dir} if trainee else {}
    result = subprocess.run([home().script("labhost"), *args], capture_output=True, text=True,
                            env={**os.environ, **hosts_dir, "GLANCELAB_LABHOST_SHARE": share,
                                 "GLANCELAB_LABHOST_LAYER": layer})
    if check and result.returncode:
        raise LabError(_("labhost {command} failed: {error}").format(
            command=" ".join(args), error=result.stderr.strip()[-1500:]) + "\n"
            + _("`glancelab lab doctor` shows what this machine lacks"))
    return result


def start_hosts(lab: Lab, trainee: Trainee, fresh: bool, wheels: str = "") -> None:
    """Each host up, seeing `wheels` and what is installed from them (`host_layer`); `fresh`
    first throws away whatever was done on it."""
    labhost(trainee, "init")
    layer = host_layer(wheels) if wheels else ""
    for name, address in trainee.hosts(lab).items():
        if fresh:
            labhost(trainee, "destroy", name)
        print(labhost(trainee, "up", name, address, share=wheels, layer=layer).stdout.strip(),
              flush=True)


# What every lab host installs the same way (the API's venv, the trainee's CLIs), from the
# wheels: installed once per machine into a layer all hosts see, so a host's install finds
# it done. The venvs' paths are those the role and the trainee-host play use.
LAYER_PACKAGES = {
    ("roles/glancelab_api/defaults/main.yml", None, "glancelab_api_venv"): "glancelab",
    ("labs/common/trainee-host.yml", 0, "lab_clients_venv"):
        "python-glanceclient python-openstackclient",
}
LAYERS_KEPT = 3


def host_layer(wheels: str) -> str:
    """The layer for these wheels, baked the first time (one baker at a time)."""
    import fcntl
    import shutil
    venvs = {}
    for (path, play, variable), packages in LAYER_PACKAGES.items():
        with open(home().content_path(path)) as handle:
            loaded = yaml.safe_load(handle)
        venvs[(loaded if play is None else loaded[play]["vars"])[variable]] = packages
    # the wheels as they are now (the test suite builds them again under the same names)
    listing = sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
                     for entry in os.scandir(wheels) if entry.name.endswith(".whl"))
    digest = hashlib.sha256(repr((listing, sorted(venvs.items()))).encode()).hexdigest()[:16]
    layers = home().state_path("labs", "layers")
    layer = os.path.join(layers, digest)
    os.makedirs(layers, exist_ok=True)
    with open(os.path.join(layers, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(layer):
            os.utime(layer)  # recently used: kept
            return layer
        print(_("installing glancelab and the glance and openstack CLIs for every lab host; "
                "once for these wheels, about 20 s..."), flush=True)
        script = os.path.join(layers, f".{digest}.sh")
        with open(script, "w") as handle:
            for venv, packages in venvs.items():
                handle.write(f"/usr/bin/python3 -m venv {venv}\n{venv}/bin/pip install -q "
                             f"--no-cache-dir --no-index --find-links {wheels} {packages}\n")
        labhost(None, "bake", layer, script, share=wheels)
        os.unlink(script)
        # the layers of older wheels: only the few last used stay
        older = sorted((entry.stat().st_mtime, entry.path) for entry in os.scandir(layers)
                       if entry.is_dir() and entry.path != layer)
        for _mtime, stale in older[:max(0, len(older) - (LAYERS_KEPT - 1))]:
            shutil.rmtree(stale, ignore_errors=True)
    return layer


def destroy_hosts(lab: Lab, trainee: Trainee) -> None:
    for name in lab.hosts:
        print(labhost(trainee, "destroy", name).stdout.strip(), flush=True)


def host_is_up(lab: Lab, trainee: Trainee, name: str) -> bool:
    status = labhost(trainee, "status", check=False).stdout.split("\n")
    return any(line.split()[:1] == [name] and line.split()[-1:] == ["up"] for line in status)


def start_services(lab: Lab, trainee: Trainee) -> dict[str, str]:
    """Start the lab's services with scripts/services/*-up; their settings as variables."""
    variables = {}
    first_host = next(iter(trainee.hosts(lab).values()))
    for name in (*SHARED_SERVICES, *lab.services):
        port = trainee.port(SERVICE_PORTS[name])
        # Keystone's catalog names this lab's (first) API node as the image endpoint; its
        # users get passwords of their own (kept 0600 in the service's state directory).
        environ = {**os.environ, "GLANCE_URL": f"http://{first_host}:9292",
                   "KEYSTONE_PASSWORDS": "random"}
        print(_("starting {service} on 127.0.0.1:{port}...").format(service=name, port=port),
              flush=True)
        started = _service_up(name, _service_state(trainee, name), str(port), environ=environ)
        for assignment in started.split("export", 1)[1].split():
            key, _equals, value = assignment.partition("=")
            variables[f"lab_{key.lower()}"] = value
        print(_("{service} is up on 127.0.0.1:{port}").format(service=name, port=port),
              flush=True)
    return variables


def keystone_template() -> None:
    """The bootstrapped database every new lab Keystone copies (scripts/services/keystone-up)."""
    _service_up("keystone", "--template")


def _service_up(name: str, *args: str, environ: dict | None = None) -> str:
    """scripts/services/NAME-up ARGS: its output, or a LabError with the reason."""
    result = subprocess.run([home().script("services", f"{name}-up"), *args],
                            capture_output=True, text=True, env=environ)
    if result.returncode:
        raise LabError(_("{service}-up failed: {error}").format(
            service=name, error=result.stderr.strip()[-1000:]))
    return result.stdout


def stop_services(lab: Lab, trainee: Trainee | None = None) -> None:
    """The lab's own services; the shared ones too when no other lab of this trainee is
    still under way."""
    trainee = trainee or Trainee.current()
    others_running = any(trainee.state(other)["state"] not in IDLE_STATES
                         for other in all_labs() if other.number != lab.number)
    for name in (*lab.services, *(() if others_running else SHARED_SERVICES)):
        subprocess.run([home().script("services", f"{name}-down"),
                        _service_state(trainee, name)], capture_output=True)


# Where a lab leaves nothing running.
IDLE_STATES = ("not started", "finished", "reset", "start failed")


def _service_state(trainee: Trainee, name: str) -> str:
    return os.path.join(trainee.home, "services", name)


def write_inventory(lab: Lab, trainee: Trainee, extra_vars: dict) -> str:
    inventory = {"all": {
        "vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3",
                 "ansible_ssh_private_key_file": os.path.join(trainee.hosts_dir, "id_ed25519"),
                 "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                                            "-o UserKnownHostsFile=/dev/null",
                 "glancelab_lab_number": lab.number,
                 # every host's address, for checks that look at one host from another
                 "lab_hosts": trainee.hosts(lab),
                 # the API asks the trainee's lab Keystone, as real Glance does
                 "glancelab_api_auth_strategy": "keystone",
                 "glancelab_api_keystone_url": extra_vars.get("lab_keystone_url", ""),
                 "glancelab_api_keystone_service_password":
                     extra_vars.get("lab_keystone_glance_password", ""),
                 **lab.variables, **extra_vars},
        "children": {"glance_api": {"hosts": {
            name: {"ansible_host": address}
            for name, address in trainee.hosts(lab).items()}}}}}
    path = trainee.inventory(lab)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # 0600: it holds the lab Keystone's passwords
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an inventory written before, with another mode
        yaml.safe_dump(inventory, handle)
    return path


def saved_inventory(lab: Lab, trainee: Trainee) -> str:
    path = trainee.inventory(lab)
    if not os.path.exists(path):
        raise LabError(_("lab {number} is not started: run `glancelab lab start {number}`")
                       .format(number=lab.number))
    return path


def wheelhouse() -> str:
    """This checkout and the CLIs a trainee uses as wheels, built once: lab hosts install
    them without an index.

    $GLANCELAB_WHEELHOUSE names wheels built elsewhere (the test suite builds its own).
    """
    if os.environ.get("GLANCELAB_WHEELHOUSE"):
        return os.environ["GLANCELAB_WHEELHOUSE"]
    if not home().checkout:
        raise LabError(_("lab hosts install glancelab from wheels: run `pip wheel "
                         "'glancelab[clients]' -w DIR` where an index is reachable, then set "
                         "GLANCELAB_WHEELHOUSE=DIR"))
    path = home().state_path("labs", "wheelhouse")
    stamp = os.path.join(path, ".built")
    # built for these dependencies: a checkout that changed them builds the wheels again
    wanted = _dependencies_digest(home().content)
    if _read(stamp) != wanted:
        print(_("building the wheels lab hosts install (glancelab, glance and openstack "
                "CLIs); once, a minute or two..."), flush=True)
        built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", path,
                                f"{home().content}[clients]"], capture_output=True, text=True)
        if built.returncode:
            raise LabError(_("building the wheels failed:") + f"\n{built.stderr[-2000:]}")
        with open(stamp, "w") as handle:
            handle.write(wanted)
    return path


def _dependencies_digest(content: str) -> str:
    try:
        with open(os.path.join(content, "pyproject.toml"), "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return "unknown"


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None
