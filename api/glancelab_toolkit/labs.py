"""The labs: `glancelab lab list | guide | run | check | reset`.

A lab is a folder labs/NN-name/ with lab.yml (title, hosts, playbook, variables), a guide
in English and Vietnamese, and checks (testinfra, run against its hosts). `run` starts the
lab's hosts with scripts/labhost, plays the playbook through ansible-runner showing each
task on each host as it happens, then runs the checks and prints a pass/fail table.
Everything a run produces goes to var/labs/runs/<lab>-<time>/.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import yaml

from glancelab_toolkit.home import Home, locate


def home() -> Home:
    """Located on first use, so that importing this module never fails."""
    global _home
    if _home is None:
        try:
            _home = locate()
        except FileNotFoundError as exc:
            raise LabError(str(exc)) from None
    return _home


_home: Home | None = None


class LabError(Exception):
    pass


@dataclasses.dataclass
class Lab:
    number: str
    slug: str
    path: str
    title: dict
    hosts: dict
    playbook: str
    variables: dict
    services: list

    @classmethod
    def load(cls, path: str) -> "Lab":
        with open(os.path.join(path, "lab.yml")) as handle:
            spec = yaml.safe_load(handle)
        return cls(number=str(spec["number"]), slug=os.path.basename(path), path=path,
                   title=spec["title"], hosts=spec["hosts"], playbook=spec["playbook"],
                   variables=spec.get("vars", {}), services=spec.get("services", []))

    def guide(self, lang: str) -> str:
        path = os.path.join(self.path, f"guide.{lang}.md")
        if not os.path.exists(path):
            raise LabError(f"lab {self.number} has no guide in '{lang}'; use en or vi")
        with open(path) as handle:
            return handle.read()


def all_labs() -> list[Lab]:
    labs_dir = home().labs
    return [Lab.load(os.path.join(labs_dir, name)) for name in sorted(os.listdir(labs_dir))
            if os.path.exists(os.path.join(labs_dir, name, "lab.yml"))]


def find(number: str) -> Lab:
    for lab in all_labs():
        if number in (lab.number, lab.slug, lab.slug.split("-", 1)[0]):
            return lab
    raise LabError(f"no lab {number}; `glancelab lab list` shows them")


# -- hosts -------------------------------------------------------------------------------------

def labhost(*args: str) -> str:
    result = subprocess.run([home().script("labhost"), *args],
                            capture_output=True, text=True)
    if result.returncode:
        raise LabError(f"labhost {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def state_dir() -> str:
    return os.path.realpath(os.environ.get("GLANCELAB_LABHOSTS", "/tmp/glancelab-labhosts"))


def write_inventory(lab: Lab, run_dir: str, extra_vars: dict) -> str:
    inventory = {"all": {
        "vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3",
                 "ansible_ssh_private_key_file": os.path.join(state_dir(), "id_ed25519"),
                 "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                                            "-o UserKnownHostsFile=/dev/null",
                 **lab.variables, **extra_vars},
        "children": {"glance_api": {"hosts": {
            name: {"ansible_host": address} for name, address in lab.hosts.items()}}}}}
    path = os.path.join(run_dir, "inventory", "hosts.yml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle)
    return path


def wheelhouse() -> str:
    """This checkout as wheels, built once: lab hosts install glancelab without an index.

    $GLANCELAB_WHEELHOUSE names wheels built elsewhere (the test suite builds its own).
    """
    if os.environ.get("GLANCELAB_WHEELHOUSE"):
        return os.environ["GLANCELAB_WHEELHOUSE"]
    if not home().checkout:
        raise LabError("lab hosts install glancelab from wheels: run `pip wheel glancelab -w "
                       "DIR` where an index is reachable, then set GLANCELAB_WHEELHOUSE=DIR")
    path = home().state_path("labs", "wheelhouse")
    stamp = os.path.join(path, ".built")
    if not os.path.exists(stamp):
        print("building glancelab wheels for the lab hosts...", flush=True)
        built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", path,
                                home().content], capture_output=True, text=True)
        if built.returncode:
            raise LabError(f"building the wheels failed:\n{built.stderr[-2000:]}")
        open(stamp, "w").close()
    return path


# -- running -------------------------------------------------------------------------------------

class Progress:
    """ansible-runner events as one line per task and host, as they happen."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.started = time.monotonic()

    def __call__(self, event: dict) -> bool:
        kind, data = event.get("event"), event.get("event_data", {})
        stamp = f"{time.monotonic() - self.started:6.1f}s"
        if kind == "playbook_on_play_start":
            self._print(f"{stamp}  PLAY  {data.get('play', '')}")
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable",
                      "runner_on_skipped"):
            result = data.get("res", {}) or {}
            status = {"runner_on_failed": "FAILED", "runner_on_unreachable": "UNREACHABLE",
                      "runner_on_skipped": "skipped"}.get(kind)
            if status is None:
                status = "changed" if result.get("changed") else "ok"
            line = f"{stamp}  {data.get('host', '?'):<10} {status:<11} {data.get('task', '')}"
            if status in ("FAILED", "UNREACHABLE"):
                line += f"\n{'':>20}{result.get('msg') or result.get('stderr') or ''}"
            self._print(line)
        return True

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def play(lab: Lab, run_dir: str, inventory: str) -> tuple[bool, float]:
    import ansible_runner
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=run_dir, playbook=home().content_path(lab.playbook), inventory=inventory,
        envvars={"PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
                 "ANSIBLE_ROLES_PATH": home().roles,
                 "ANSIBLE_CONFIG": home().ansible_cfg, "ANSIBLE_PIPELINING": "True"},
        event_handler=Progress(), quiet=True)
    return result.rc == 0, time.monotonic() - started


def check(lab: Lab, run_dir: str, inventory: str) -> list[tuple[str, bool, float, str]]:
    """Run the lab's checks; (name, passed, seconds, message) each."""
    report = os.path.join(run_dir, "checks.xml")
    env = {**os.environ, "PY_COLORS": "0",
           "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "--rootdir", home().labs,
                           f"--hosts=ansible://glance_api?ansible_inventory={inventory}",
                           f"--junitxml={report}", os.path.join(lab.path, "checks")],
                          cwd=home().labs, env=env, capture_output=True, text=True)
    log = os.path.join(run_dir, "checks.log")
    with open(log, "w") as handle:
        handle.write(done.stdout + done.stderr)
    if not os.path.exists(report):
        raise LabError(f"the checks of lab {lab.number} did not run; see {log}")
    results = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        name = case.get("name", "?").replace("test_", "", 1)
        check_name, _, host = name.partition("[ansible://")
        name = f"{host.rstrip(']')}: {check_name.replace('_', ' ')}" if host else check_name
        message = ""
        if problem is not None:
            message = (problem.get("message") or "").split("\n")[0]
            if problem.tag == "error":
                message = f"the check could not run ({message}); see {log}"
        results.append((name, problem is None, float(case.get("time", 0)), message))
    return results


def print_table(lab: Lab, results, play_seconds: float | None, out=sys.stdout) -> None:
    print(f"\nLab {lab.number} — {lab.title['en']}", file=out)
    width = max([len("playbook")] + [len(r[0]) for r in results])
    if play_seconds is not None:
        print(f"  {'playbook':<{width}}  {'pass':<5} {play_seconds:6.1f}s", file=out)
    for name, passed, seconds, message in results:
        print(f"  {name:<{width}}  {'pass' if passed else 'FAIL':<5} {seconds:6.1f}s", file=out)
        if not passed:
            print(f"      {message}", file=out)
    passed = sum(1 for r in results if r[1])
    print(f"{passed} passed, {len(results) - passed} failed", file=out)


def new_run_dir(lab: Lab) -> str:
    path = home().state_path("labs", "runs", f"{lab.slug}-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(path, exist_ok=True)
    return path


def start_hosts(lab: Lab) -> None:
    labhost("init")
    for name, address in lab.hosts.items():
        print(labhost("up", name, address).strip(), flush=True)


# Servers some labs share between their hosts, on 127.0.0.1 (the hosts share its network).
SERVICE_PORTS = {"postgres": 15432, "s3": 18333, "ceph": 16789}


def start_services(lab: Lab) -> dict[str, str]:
    """Start the lab's services with scripts/services/*-up; their settings as variables."""
    variables = {}
    for name in lab.services:
        state = home().state_path("labs", "services", name)
        result = subprocess.run([home().script("services", f"{name}-up"), state,
                                 str(SERVICE_PORTS[name])], capture_output=True, text=True)
        if result.returncode:
            raise LabError(f"{name}-up failed: {result.stderr.strip()[-1000:]}")
        for assignment in result.stdout.split("export", 1)[1].split():
            key, _, value = assignment.partition("=")
            variables[f"lab_{key.lower()}"] = value
        print(f"{name} is up on 127.0.0.1:{SERVICE_PORTS[name]}", flush=True)
    return variables


def run(lab: Lab) -> int:
    run_dir = new_run_dir(lab)
    services = start_services(lab)
    start_hosts(lab)
    inventory = write_inventory(lab, run_dir, {"glancelab_api_wheelhouse": wheelhouse(),
                                               **services})
    print(f"Lab {lab.number}: {lab.title['en']}  (artifacts: {run_dir})", flush=True)
    ok, seconds = play(lab, run_dir, inventory)
    if not ok:
        print(f"\nThe playbook failed; the failing task is above, its full output in {run_dir}. "
              f"Fix it and run again, or `glancelab lab reset {lab.number}` to start over.")
        return 1
    results = check(lab, run_dir, inventory)
    print_table(lab, results, seconds)
    with open(os.path.join(run_dir, "results.json"), "w") as handle:
        json.dump([{"check": n, "passed": p, "seconds": s, "message": m}
                   for n, p, s, m in results], handle, indent=2)
    return 0 if all(r[1] for r in results) else 1


def check_only(lab: Lab) -> int:
    run_dir = new_run_dir(lab)
    inventory = write_inventory(lab, run_dir, {})
    results = check(lab, run_dir, inventory)
    print_table(lab, results, None)
    return 0 if all(r[1] for r in results) else 1


def reset(lab: Lab) -> int:
    for name in lab.hosts:
        print(labhost("reset", name).strip())
    return 0


def stop_services(lab: Lab) -> None:
    for name in lab.services:
        state = home().state_path("labs", "services", name)
        subprocess.run([home().script("services", f"{name}-down"), state],
                       capture_output=True)
