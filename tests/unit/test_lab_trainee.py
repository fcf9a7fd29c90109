"""A trainee's lab home: slots, addresses and ports apart from every other trainee's."""

import os

import pytest

from glancelab_toolkit.labs import trainee as trainee_module
from glancelab_toolkit.labs.spec import LabError, find
from glancelab_toolkit.labs.trainee import Trainee, claim_slot, release_slot


@pytest.fixture(autouse=True)
def slots(tmp_path, monkeypatch):
    monkeypatch.setattr(trainee_module, "SLOTS_DIR", str(tmp_path / "slots"))


def home(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    return str(path)


def test_two_lab_homes_get_two_slots_and_keep_them(tmp_path):
    an, binh = home(tmp_path, "an"), home(tmp_path, "binh")
    assert claim_slot(an) == 0 and claim_slot(binh) == 1
    assert claim_slot(an) == 0 and claim_slot(binh) == 1  # kept, not claimed again


def test_a_slot_whose_home_is_gone_is_taken_over_and_released_frees_it(tmp_path):
    gone = home(tmp_path, "gone")
    assert claim_slot(gone) == 0
    os.rename(gone, gone + "-moved")
    assert claim_slot(home(tmp_path, "new")) == 0
    chi = home(tmp_path, "chi")
    assert claim_slot(chi) == 1
    release_slot(chi)
    assert claim_slot(home(tmp_path, "dung")) == 1


def test_every_slot_taken_is_a_lab_error_that_says_how_to_free_one(tmp_path, monkeypatch):
    monkeypatch.setattr(trainee_module, "MAX_SLOTS", 1)
    claim_slot(home(tmp_path, "an"))
    with pytest.raises(LabError, match="lab finish"):
        claim_slot(home(tmp_path, "binh"))


def test_slot_moves_hosts_and_service_ports(tmp_path):
    lab = find("2.6")
    first, second = Trainee(home=str(tmp_path), slot=0), Trainee(home=str(tmp_path), slot=3)
    assert first.hosts(lab) == {"l26a": "127.0.0.26", "l26b": "127.0.0.27"}
    assert second.hosts(lab) == {"l26a": "127.3.0.26", "l26b": "127.3.0.27"}
    assert second.port(16789) - first.port(16789) == 3 * trainee_module.PORT_STRIDE
    # no two slots' Ceph port ranges (12 ports each) overlap
    assert trainee_module.PORT_STRIDE >= 12
    with pytest.raises(LabError):
        first.address("10.0.0.1")


def test_state_is_recorded_per_lab(tmp_path):
    lab, trainee = find("2.1"), Trainee(home=str(tmp_path), slot=0)
    assert trainee.state(lab) == {"state": "not started"}
    trainee.record(lab, state="graded", score="3/4")
    trainee.record(lab, graded_at="2026-12-03T10:00:00+00:00")
    assert trainee.state(lab) == {"state": "graded", "score": "3/4",
                                  "graded_at": "2026-12-03T10:00:00+00:00"}
