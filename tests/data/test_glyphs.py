"""The glyph stand-in's pins: the fonts pinned by sha256 (whatever else a machine has), the glyph
set verified on every load, a truncated glyph file rebuilt once, and clear errors when the pinned
fonts cannot be had or a rebuilt set still differs. Miniatures use matplotlib's DejaVu fonts
under Noto names, pinned the way the real fonts are."""

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from ntkpaper import paths
from ntkpaper._io import arrays_sha256
from ntkpaper.data import glyph_pins, sources
from ntkpaper.data import glyphs as G
from ntkpaper.data.formats import file_digest

MPL_FONTS = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf"
SMALL = {"n_background": 1, "n_evaluation": 1, "drawings": 2, "side": 16}
KEY = G.glyph_set_key(**SMALL)


def _font(name: str, src: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MPL_FONTS / src, folder / name)
    return folder / name


def _no_apt(*args, **kwargs):
    raise sources.SourceError("`apt-get download fonts-noto-core=20201225-1` failed: E: Version "
                              "'20201225-1' for 'fonts-noto-core' was not found")


@pytest.fixture
def mini(tmp_path, monkeypatch):
    """A data directory, two pinned "Noto" fonts installed in a fake system font folder beside
    one that is not pinned, and no apt-get."""
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(G.FONTS_ENV, raising=False)
    system = tmp_path / "system"
    a = _font("NotoSansA-Regular.ttf", "DejaVuSans.ttf", system)
    b = _font("NotoSansB-Regular.ttf", "DejaVuSerif.ttf", system)
    _font("NotoSansC-Regular.ttf", "DejaVuSansMono.ttf", system)  # installed, not pinned
    monkeypatch.setattr(G, "NOTO_SYSTEM_DIR", system)
    monkeypatch.setattr(glyph_pins, "FONTS", {p.name: file_digest(p) for p in (a, b)})
    monkeypatch.setattr(glyph_pins, "SETS", {})
    monkeypatch.setattr(G, "apt_extract", _no_apt)
    return system


def _pin(cs, **change) -> dict:
    """A ``glyph_pins.SETS`` entry for ``cs`` (as ``write_pins`` makes it), with changes."""
    chars = np.asarray(cs.meta["characters"])
    pin = {"sha256": cs.meta["sha256"],
           "background": int((cs.split == "background").sum()),
           "evaluation": int((cs.split == "evaluation").sum()),
           "alphabets": [(name, cs.meta["fonts"][a], G._codepoints(chars[cs.alphabet == a]))
                         for a, name in enumerate(cs.alphabets)]}
    return {**pin, **change}


def test_the_glyph_set_is_rendered_from_the_pinned_fonts_only(mini, monkeypatch):
    cs = G.load_characters("glyphs", **SMALL)
    folder = G.pinned_font_folder()
    assert sorted(p.name for p in folder.iterdir()) == sorted(glyph_pins.FONTS)
    assert set(cs.meta["fonts"]) <= set(glyph_pins.FONTS) and cs.meta["pinned"]
    assert cs.meta["title"] == G.GLYPH_TITLE and len(cs.meta["characters"]) == len(cs.images)
    bg = cs.subset("background")
    assert bg.meta["characters"] == [c for c, s in zip(cs.meta["characters"], cs.split)
                                     if s == "background"]
    # the same set from another data directory where the system fonts are a different version
    # of the package: those are not used, and without the .deb that is a clear error
    other = mini.parent / "data2"
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(other))
    _font("NotoSansA-Regular.ttf", "DejaVuSansMono.ttf", mini)
    with pytest.raises(sources.DatasetUnavailable) as err:
        G.load_glyphs(**SMALL)
    msg = str(err.value)
    assert "1 of the 2 pinned fonts were not found (NotoSansA-Regular.ttf)" in msg
    assert f"installed fonts in {mini}: 1 of 2 identical" in msg
    assert "Version '20201225-1' for 'fonts-noto-core' was not found" in msg
    assert "fonts-noto-core_20201225-1_all.deb" in msg and str(other / "raw" / "deb") in msg
    assert G.FONTS_ENV in msg and "UNPINNED" in msg
    assert not list(other.glob("glyphs_*.npz"))
    # the pinned .deb provides the missing font: the same glyph set comes out
    deb_root = mini.parent / "deb" / "fonts-noto-core_20201225-1"
    _font("NotoSansA-Regular.ttf", "DejaVuSans.ttf", deb_root / G.NOTO_DEB_FONT_DIR)
    monkeypatch.setattr(G, "apt_extract", lambda *a, **k: deb_root)
    again = G.load_glyphs(**SMALL)
    assert again.meta["sha256"] == cs.meta["sha256"]
    np.testing.assert_array_equal(again.images, cs.images)


def test_a_truncated_glyph_file_is_rebuilt_once_to_the_pinned_set(mini, monkeypatch):
    first = G.load_glyphs(**SMALL)
    monkeypatch.setitem(glyph_pins.SETS, KEY, _pin(first))
    cache = paths.data_dir() / f"{KEY}.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cache that matches its pin: no rebuild
        G.load_glyphs(**SMALL)
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    with pytest.warns(sources.DataRebuiltWarning, match=f"{KEY}.npz cannot be read.*rebuilding "
                                                        "it once"):
        again = G.load_glyphs(**SMALL)
    np.testing.assert_array_equal(again.images, first.images)
    assert again.alphabets == first.alphabets and again.meta["sha256"] == first.meta["sha256"]
    with np.load(cache) as z:  # the file on disk is the pinned set again
        assert arrays_sha256({k: z[k] for k in G.glyph_arrays(again)}) == first.meta["sha256"]
    # a valid file with other images and a consistent record of its own: the pin catches it
    with np.load(cache) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["images"] = arrays["images"].copy()
    arrays["images"].flat[0] ^= 1
    arrays["sha256"] = np.asarray(arrays_sha256({k: arrays[k] for k in G.glyph_arrays(first)}))
    with open(cache, "wb") as f:
        np.savez_compressed(f, **arrays)
    with pytest.warns(sources.DataRebuiltWarning, match="has sha256 .*, pinned"):
        np.testing.assert_array_equal(G.load_glyphs(**SMALL).images, first.images)


def test_a_glyph_set_without_a_pin_is_checked_against_its_recorded_checksum(mini):
    first = G.load_glyphs(**SMALL)
    cache = paths.data_dir() / f"{KEY}.npz"
    with np.load(cache) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["alphabet"] = arrays["alphabet"][::-1].copy()
    with open(cache, "wb") as f:
        np.savez_compressed(f, **arrays)
    with pytest.warns(sources.DataRebuiltWarning, match="recorded"):
        again = G.load_glyphs(**SMALL)
    np.testing.assert_array_equal(again.alphabet, first.alphabet)
    with np.load(cache) as z:  # the format of the previous version: no characters, no record
        arrays = {k: z[k] for k in ("images", "alphabet", "alphabets", "split", "title")}
    with open(cache, "wb") as f:
        np.savez_compressed(f, **arrays)
    with pytest.warns(sources.DataRebuiltWarning, match="written by an older version"):
        G.load_glyphs(**SMALL)


def test_a_rebuilt_glyph_set_that_differs_from_its_pin_says_what_and_how(mini, monkeypatch):
    built = G.load_glyphs(**SMALL)
    (paths.data_dir() / f"{KEY}.npz").write_bytes(b"PK\x03\x04 truncated")
    name, font, points = _pin(built)["alphabets"][0]
    first_point = points.split()[0]
    dropped = [(name, font, " ".join(points.split()[1:])), *_pin(built)["alphabets"][1:]]
    monkeypatch.setitem(glyph_pins.SETS, KEY, _pin(built, sha256="ab" * 32, alphabets=dropped))
    with pytest.warns(sources.DataRebuiltWarning), \
            pytest.raises(sources.ChecksumMismatch) as err:
        G.load_glyphs(**SMALL)
    msg = str(err.value)
    assert f"{KEY} built here has sha256 {built.meta['sha256'][:16]}..., pinned abababab" in msg
    assert f"Alphabet {name}:" in msg and f"built only: U+{first_point}; pinned only: none." in msg
    assert "requirements.lock" in msg and "was not written" in msg
    assert not (paths.data_dir() / f"{KEY}.npz").exists()  # nothing unverified is left
    monkeypatch.setitem(glyph_pins.SETS, KEY, _pin(built, sha256="ab" * 32))
    with pytest.raises(sources.ChecksumMismatch, match="Same alphabets and characters as pinned"):
        G.load_glyphs(**SMALL)
    monkeypatch.setitem(glyph_pins.SETS, KEY, _pin(built, sha256="ab" * 32,
                                                   alphabets=_pin(built)["alphabets"][::-1]))
    with pytest.raises(sources.ChecksumMismatch, match="Alphabets differ"):
        G.load_glyphs(**SMALL)


def test_unpinned_fonts_give_a_labelled_set_of_their_own(mini, tmp_path, monkeypatch):
    pinned = G.load_glyphs(**SMALL)
    other = tmp_path / "other-fonts"
    _font("NotoSansA-Regular.ttf", "DejaVuSans-Bold.ttf", other)
    _font("NotoSansB-Regular.ttf", "DejaVuSerif.ttf", other)
    monkeypatch.setenv(G.FONTS_ENV, str(other))
    monkeypatch.setitem(glyph_pins.SETS, KEY, {"sha256": "0" * 64})  # ignored for other fonts
    cs = G.load_glyphs(**SMALL)
    assert not cs.meta["pinned"] and "UNPINNED" in cs.meta["title"] and str(other) in \
        cs.meta["title"]
    caches = sorted(p.name for p in paths.data_dir().glob("glyphs_*.npz"))
    assert caches[0] == f"{KEY}.npz" and caches[1].startswith(f"{KEY}_unpinned-")
    assert cs.meta["sha256"] != pinned.meta["sha256"]
    np.testing.assert_array_equal(G.load_glyphs(**SMALL).images, cs.images)
    monkeypatch.setenv(G.FONTS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(sources.DatasetUnavailable, match="no Noto.*-Regular.ttf fonts there"):
        G.load_glyphs(**SMALL)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_apt_extract_takes_only_the_pinned_deb(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        "Package: ntkpaper-test-fonts\nVersion: 1.0-1\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: test\n")
    _font("NotoSansA-Regular.ttf", "DejaVuSans.ttf", pkg / "usr" / "share" / "fonts")
    debdir = tmp_path / "debs"
    debdir.mkdir()
    deb = debdir / "ntkpaper-test-fonts_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "-Zgzip", "--build", "--root-owner-group", str(pkg), str(deb)],
                   check=True, capture_output=True)
    good = file_digest(deb)
    root = sources.apt_extract("ntkpaper-test-fonts", debdir, "1.0-1", good)
    assert root == debdir / "ntkpaper-test-fonts_1.0-1"
    assert (root / "usr" / "share" / "fonts" / "NotoSansA-Regular.ttf").exists()
    shutil.rmtree(root)
    which = shutil.which  # no apt-get to fetch the pinned one: the error says both
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "apt-get" else which(name))
    with pytest.raises(sources.SourceError, match="did not match the pinned sha256 \\(removed\\)"
                                                  "; no .* and apt-get is not available"):
        sources.apt_extract("ntkpaper-test-fonts", debdir, "1.0-1", "0" * 64)
    assert not deb.exists() and not root.exists()


def test_the_pins_are_consistent():
    assert (glyph_pins.PACKAGE, glyph_pins.VERSION) == (G.NOTO_PACKAGE, G.NOTO_VERSION)
    assert len(glyph_pins.FONTS) == 142 and all(len(s) == 64 for s in glyph_pins.FONTS.values())
    assert sorted(glyph_pins.SETS) == sorted(G.glyph_set_key(**p) for p in G.PINNED_SETS)
    for params in G.PINNED_SETS:
        pin = glyph_pins.SETS[G.glyph_set_key(**params)]
        alphabets = pin["alphabets"]
        assert len(alphabets) == params["n_background"] + params["n_evaluation"]
        assert len({a[0] for a in alphabets}) == len(alphabets)  # one font per script
        assert {a[1] for a in alphabets} <= set(glyph_pins.FONTS)
        sizes = [len(a[2].split()) for a in alphabets]
        assert all(len(set(a[2].split())) == n for a, n in zip(alphabets, sizes))
        assert sum(sizes[:params["n_background"]]) == pin["background"]
        assert sum(sizes[params["n_background"]:]) == pin["evaluation"]
    full = glyph_pins.SETS["glyphs_b30_e20_d20_s28_seed0"]
    assert (full["background"], full["evaluation"]) == (837, 599)


@pytest.mark.slow
def test_the_real_smoke_glyph_set_matches_its_pin(tmp_path, monkeypatch):
    """From the pinned .deb (the one in data/raw/deb if there, else `apt-get download`), in a
    data directory of its own: fonts gathered, set built, sha256 as pinned."""
    deb = paths.data_dir() / "raw" / "deb" / G.NOTO_DEB
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(G.FONTS_ENV, raising=False)
    if deb.exists():
        (tmp_path / "raw" / "deb").mkdir(parents=True)
        shutil.copyfile(deb, tmp_path / "raw" / "deb" / deb.name)
    params = G.PINNED_SETS[1]
    cs = G.load_characters("glyphs", **{k: v for k, v in params.items() if k != "side"})
    pin = glyph_pins.SETS[G.glyph_set_key(**params)]
    assert cs.meta["pinned"] and cs.meta["sha256"] == pin["sha256"]
    assert ((cs.split == "background").sum(), (cs.split == "evaluation").sum()) == (106, 43)
    assert [a[0] for a in pin["alphabets"]] == cs.alphabets
