"""Packages are found, not listed: everything under src/, plus generators/ and detector/ (top-level folders, the
repository's map) installed as synthfake.generators and synthfake.detector, and the data folders recipes/ and
manifests/ (their JSON files as package data) as synthfake.recipes and synthfake.manifests (package-dir and
package-data in pyproject.toml)."""

from setuptools import find_packages, setup


def mapped(package: str, folder: str) -> list[str]:
    """`package` (a folder outside src/) and every package below it."""
    return [package] + [f"{package}.{p}" for p in find_packages(folder)]


setup(packages=find_packages("src") + mapped("synthfake.generators", "generators")
      + mapped("synthfake.detector", "detector") + ["synthfake.recipes", "synthfake.manifests"])
