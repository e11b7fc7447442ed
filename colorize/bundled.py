"""Where the bundled photos (the repository's ``images/``) are.

In a checkout, or an editable install (``pip install -e .``), they sit next to the packages.
A regular install (``pip install .``) copies them, with their ``CREDITS.md``, to
``<prefix>/share/colorize-from-scratch/images`` (``data_files`` in setup.cfg), where the
prefix is the environment's (``sys.prefix``), the install scheme's data folder (Debian's pip
installs into ``/usr/local`` while ``sys.prefix`` is ``/usr``) or, for ``pip install --user``,
the user base.
"""

import site
import sys
import sysconfig
from pathlib import Path

SHARED_IMAGES = Path("share") / "colorize-from-scratch" / "images"
CHECKOUT_IMAGES = Path(__file__).resolve().parent.parent / "images"


def in_checkout():
    """True when the packages run from the project's own folder (a checkout, or an editable
    install), where ``images/`` sits next to them; False after a regular install."""
    return (CHECKOUT_IMAGES / "CREDITS.md").is_file()


def bundled_images_dir():
    """The folder of the bundled photos: the first of the places above that holds
    ``CREDITS.md``, or else the checkout's ``images/`` (so a missing photo is reported by the
    path a reader of the repository expects)."""
    places = (CHECKOUT_IMAGES, Path(sys.prefix) / SHARED_IMAGES,
              Path(sysconfig.get_paths()["data"]) / SHARED_IMAGES,
              Path(site.getuserbase()) / SHARED_IMAGES)
    for folder in places:
        if (folder / "CREDITS.md").is_file():
            return folder
    return CHECKOUT_IMAGES


def bundled_image(name):
    """Path of the bundled photo ``name`` (e.g. ``"chelsea.png"``)."""
    return bundled_images_dir() / name
