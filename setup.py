"""Packaging for xplique: the metadata lives in setup.cfg; this file only enables editable installs."""
from setuptools import setup

setup()
