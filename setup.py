"""Lets Beam's `--setup_file ./setup.py` ship this project's packages to Dataflow workers;
the real metadata lives in pyproject.toml. The workers get the launcher's locked versions from
`--requirements_file requirements/workers.txt` (written by `make lock`; README, "The lock")."""

from setuptools import setup

setup()
