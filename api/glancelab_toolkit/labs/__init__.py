"""The labs, as a trainee does them: start, work by hand, grade, solve, finish.

A lab is a folder labs/NN-name/ with lab.yml (title, hosts, services, the start and
solution playbooks, variables), a guide in English and Vietnamese, and checks (testinfra,
run on its hosts by the grader). Modules, one job each:

  spec      what a lab is (lab.yml) and how to find one
  trainee   where one trainee's lab state lives, and their address block and ports
  hosts     the lab hosts (scripts/labhost), the shared services, the inventory
  playbook  playing a playbook with live progress (ansible-runner)
  grading   running the checks and turning each result into a line with a fix
  cycle     start, grade, solve, finish, run, status, ssh
  doctor    what this machine lacks to run labs, with the fix
"""

from glancelab_toolkit.labs.spec import Lab, LabError, all_labs, find  # noqa: F401
from glancelab_toolkit.labs.hosts import stop_services  # noqa: F401
