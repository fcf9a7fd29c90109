"""Bringing a lab to its starting state: what the machine prepares once for every lab, and
a lab's fresh hosts played to where the exercise begins (`lab start`, and the exam's)."""

from __future__ import annotations

import concurrent.futures

from glancelab_toolkit.i18n import _
from glancelab_toolkit.labs import hosts
from glancelab_toolkit.labs.playbook import play
from glancelab_toolkit.labs.spec import Lab
from glancelab_toolkit.labs.trainee import Trainee, now_iso


def prepare_machine() -> int:
    """What every lab's start reuses, made now rather than by the first start: the wheels,
    the hosts' layer installed from them, the Keystone database new Keystones copy."""
    hosts.host_layer(hosts.wheelhouse())
    hosts.keystone_template()
    print(_("this machine is ready: a lab starts in seconds"))
    return 0


def prepare(lab: Lab, trainee: Trainee) -> bool:
    """Fresh hosts brought to the exercise's starting state; False (said why) if not."""
    trainee.record(lab, state="starting", started_at=now_iso())
    wheels = hosts.wheelhouse()
    # the hosts come up while the services start: neither needs the other yet
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        hosts_up = pool.submit(hosts.start_hosts, lab, trainee, fresh=True, wheels=wheels)
        services = hosts.start_services(lab, trainee)
        hosts_up.result()
    inventory = hosts.write_inventory(lab, trainee, {
        "glancelab_api_wheelhouse": wheels, **services})
    run_dir = trainee.new_run_dir(lab, "start")
    print(_("Lab {number}: {title} — preparing the starting state").format(
        number=lab.number, title=lab.title_in()), flush=True)
    ok, _seconds = play(lab.start, run_dir, inventory, trainee)
    if not ok:
        trainee.record(lab, state="start failed")
        print("\n" + _("Preparing the lab failed; the failing task is above, its full output "
                       "in {run_dir}. `glancelab lab doctor` checks this machine; then start "
                       "again.").format(run_dir=run_dir))
        return False
    trainee.record(lab, state="started")
    return True
