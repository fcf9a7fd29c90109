"""Build hook: the toolkit's content travels inside the wheel (see glancelab_toolkit/home.py).

Everything else about the package is in pyproject.toml.
"""

import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "api"))
from glancelab_toolkit.home import CONTENT  # noqa: E402 - the layout has one owner
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "var", ".molecule")


class BuildWithContent(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        target = os.path.join(self.build_lib, "glancelab_toolkit", "content")
        for name in CONTENT:
            if os.path.isdir(name):
                shutil.copytree(name, os.path.join(target, name), ignore=SKIP,
                                dirs_exist_ok=True)
            elif os.path.exists(name):
                os.makedirs(target, exist_ok=True)
                shutil.copy2(name, target)


setup(cmdclass={"build_py": BuildWithContent})
