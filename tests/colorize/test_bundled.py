"""Where the bundled photos are found: the checkout's images/, or an install's share folder."""

import sys
from pathlib import Path

from colorize import bundled

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_uses_its_own_images_folder():
    assert bundled.bundled_images_dir() == ROOT / "images"
    assert bundled.bundled_image("chelsea.png").is_file()


def test_a_regular_install_finds_the_copies_under_its_prefix(tmp_path, monkeypatch):
    shared = tmp_path / bundled.SHARED_IMAGES
    shared.mkdir(parents=True)
    (shared / "CREDITS.md").write_text("credits")
    monkeypatch.setattr(bundled, "CHECKOUT_IMAGES", tmp_path / "site-packages" / "images")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert bundled.bundled_images_dir() == shared


def test_with_no_copy_anywhere_the_checkout_path_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "site-packages" / "images"
    monkeypatch.setattr(bundled, "CHECKOUT_IMAGES", missing)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    monkeypatch.setattr(bundled.site, "getuserbase", lambda: str(tmp_path / "user"))
    monkeypatch.setattr(bundled.sysconfig, "get_paths", lambda: {"data": str(tmp_path / "data")})
    assert bundled.bundled_images_dir() == missing


def test_a_scheme_whose_data_folder_is_not_the_prefix_is_searched(tmp_path, monkeypatch):
    # Debian's pip: sys.prefix is /usr, data files go to /usr/local
    shared = tmp_path / "usr" / "local" / bundled.SHARED_IMAGES
    shared.mkdir(parents=True)
    (shared / "CREDITS.md").write_text("credits")
    monkeypatch.setattr(bundled, "CHECKOUT_IMAGES", tmp_path / "dist-packages" / "images")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "usr"))
    monkeypatch.setattr(bundled.sysconfig, "get_paths",
                        lambda: {"data": str(tmp_path / "usr" / "local")})
    assert bundled.bundled_images_dir() == shared


def test_the_checkout_is_recognised_by_its_own_images(tmp_path, monkeypatch):
    assert bundled.in_checkout()
    monkeypatch.setattr(bundled, "CHECKOUT_IMAGES", tmp_path / "site-packages" / "images")
    assert not bundled.in_checkout()


def test_a_user_install_finds_the_copies_under_its_user_base(tmp_path, monkeypatch):
    shared = tmp_path / "user" / bundled.SHARED_IMAGES
    shared.mkdir(parents=True)
    (shared / "CREDITS.md").write_text("credits")
    monkeypatch.setattr(bundled, "CHECKOUT_IMAGES", tmp_path / "site-packages" / "images")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    monkeypatch.setattr(bundled.sysconfig, "get_paths", lambda: {"data": str(tmp_path / "env")})
    monkeypatch.setattr(bundled.site, "getuserbase", lambda: str(tmp_path / "user"))
    assert bundled.bundled_images_dir() == shared


def test_the_checkout_comes_before_an_installed_copy(tmp_path, monkeypatch):
    shared = tmp_path / bundled.SHARED_IMAGES
    shared.mkdir(parents=True)
    (shared / "CREDITS.md").write_text("an older installed copy")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert bundled.bundled_images_dir() == ROOT / "images"
