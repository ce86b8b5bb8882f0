"""Install wheels into the image's site-packages without pip, at image build time.

The base image is a minimal Debian with ``python3`` and no pip (pip from Debian would pull in a
compiler toolchain's worth of packages, and the build cannot reach PyPI over HTTPS anyway). A wheel
is a zip laid out for site-packages, so unpacking it is an install: ``*.data/purelib`` and
``*.data/platlib`` go to site-packages too; scripts and headers are not needed by the sandbox.

Usage: ``python3 install_wheels.py WHEEL...``. Standard library only.
"""

from __future__ import annotations

import shutil
import site
import sys
import zipfile
from pathlib import Path


def site_packages() -> Path:
    # Debian's python3 puts locally installed packages in /usr/local/lib/python3.X/dist-packages,
    # which is first in getsitepackages() and on sys.path under ``python3 -I``.
    return Path(site.getsitepackages()[0])


def install(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    for data in target.glob("*.data"):
        for scheme in ("purelib", "platlib"):
            folder = data / scheme
            if folder.is_dir():
                shutil.copytree(folder, target, dirs_exist_ok=True)
        shutil.rmtree(data)


def main(wheels: list[str]) -> None:
    if not wheels:
        sys.exit("install_wheels.py: no wheel given (run .ci/docker-setup.sh, which downloads them)")
    target = site_packages()
    target.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        install(Path(wheel), target)
        print(f"installed {Path(wheel).name} into {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
