"""Package layout that pyproject.toml cannot express alone (all other metadata is there).

Every ``symgrad*`` package is discovered, and the repository's top-level ``csrc_templates/``
folder is shipped inside the installed package as ``symgrad/csrc_templates/``;
``[tool.setuptools.package-data]`` in pyproject.toml says which files it carries.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["symgrad", "symgrad.*"]), "symgrad.csrc_templates"],
    package_dir={"symgrad.csrc_templates": "csrc_templates"},
)
