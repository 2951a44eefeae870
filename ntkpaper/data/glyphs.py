"""Few-shot character data for notebook 03: the real Omniglot loader and a glyph stand-in.

**Omniglot** (Lake et al. 2015): 1,623 handwritten characters from 50 alphabets, 20 drawings
each; ``images_background.zip`` (30 alphabets, 964 characters) and ``images_evaluation.zip``
(20 alphabets, 659 characters) from :data:`OMNIGLOT_URL`, verified by the md5 sums every
Omniglot loader pins (torchvision's). Members are ``images_background/<Alphabet>/character01/
<id>_<drawer>.png``: 105x105 1-bit images, strokes black (0) on white (1).
:func:`read_omniglot_zip` reads that format; tests run it on generated miniatures.

**Glyph stand-in** (no offline Omniglot here): characters of many scripts rendered from the Noto
fonts of Debian's ``fonts-noto-core`` package, each with ``drawings`` randomly distorted copies
(affine: rotation, scale, shear, shift; a smooth elastic displacement; stroke thickening or
thinning), so that a "character" is a class with intra-class variation like handwriting, and the
alphabets are split into disjoint background and evaluation sets as in Omniglot. It is a
stand-in: printed glyphs with synthetic distortions, not pen strokes, and every figure and ledger
says so.

*The same glyph set on every machine.* It used to be rendered from whatever version of the fonts
a machine had (837/599 background/evaluation characters on one, 824/554 on another). Now three
things are pinned:

1. the package: ``fonts-noto-core`` :data:`NOTO_VERSION` (Debian 12 "bookworm") and the sha256
   of its ``.deb`` (:data:`NOTO_DEB_SHA256`, the one in Debian's signed package index), fetched
   with ``apt-get download fonts-noto-core=<version>`` and unpacked with ``dpkg-deb -x`` (no
   install);
2. every font the builder considers (:func:`candidate_fonts`: 142 files), by sha256, in
   :mod:`ntkpaper.data.glyph_pins` (``FONTS``). The builder only ever sees
   :func:`pinned_font_folder`, a folder holding exactly those files, filled from wherever a
   byte-identical copy is found (:func:`pinned_font_dir`): so neither the other fonts a machine
   has installed nor its version of the package matter, and fonts copied by hand serve as well
   as the ``.deb``;
3. the result: for the sets the notebook's profiles use, the alphabets, the characters of each
   (code points) and the sha256 of the arrays (``glyph_pins.SETS``). Every load checks the
   cache against it; a build that does not match raises :class:`ChecksumMismatch` saying what
   differs.

Why this source: no PyPI wheel ships these fonts (PyPI has a handful of Noto families, not ~140
scripts), Debian keeps a released version in its archive for the life of the release, and pinning
each font by hash, not only the package, lets any identical copy serve where that version cannot
be downloaded. The rendering is made independent of the machine too: text is drawn with Pillow's
basic layout (FreeType only; its RAQM layout depends on whether the system has libfribidi, and
drew 46 of 4,102 candidate glyphs differently), and :func:`distort` uses no BLAS and no
CPU-dispatched sine. Pillow (with its FreeType), numpy and scipy are pinned in
``requirements.lock``; the pins record the versions they were made with (``SOFTWARE``).

*Where the pinned fonts cannot be had* (a Debian release without that version, no package
archive, not Debian): :class:`DatasetUnavailable` names the missing fonts, every place tried and
how to provide them (the ``.deb`` in ``data/raw/deb/``, or the fonts copied into
:func:`pinned_font_folder`). To run anyway, set ``NTKPAPER_GLYPH_FONTS`` to a folder of Noto
``*-Regular.ttf`` fonts: the set rendered from them is cached under its own name, verified
against the checksum recorded when it was built, and titled UNPINNED; its numbers are not
comparable with the committed ones.

Both loaders return a :class:`CharacterSet`: ``images`` (C, D, S, S) float32 in [0, 1] with ink
= 1 (C characters, D drawings, side S), ``alphabet`` (C,) alphabet index per character,
``alphabets`` (names), ``split`` (C,) ``"background"`` or ``"evaluation"``, ``meta``.

``python -m ntkpaper.data.glyphs --write-pins`` regenerates ``glyph_pins.py`` (after a deliberate
change of the package, the builder or the software).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import shutil
import sys
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ntkpaper import paths
from ntkpaper._io import arrays_sha256, atomic_write, atomic_write_text
from ntkpaper.data import glyph_pins as pins
from ntkpaper.data.formats import file_digest
from ntkpaper.data.sources import (
    ChecksumMismatch,
    DatasetUnavailable,
    SourceError,
    apt_extract,
    download,
    ensure_writable,
    warn_rebuild,
)

OMNIGLOT_URL = "https://github.com/brendenlake/omniglot/raw/master/python/{}.zip"
OMNIGLOT_MD5 = {"images_background": "68d2efa1b9178cc56df9314c21c6e718",
                "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811"}
NOTO_PACKAGE = "fonts-noto-core"
NOTO_VERSION = "20201225-1"  # Debian 12 (bookworm)
NOTO_DEB = f"{NOTO_PACKAGE}_{NOTO_VERSION}_all.deb"
NOTO_DEB_SHA256 = "58f4f0bb6720f919f92096b3508e1412a0f1544424ade6c5b5bf1eb694dd64ba"
NOTO_DEB_FONT_DIR = "usr/share/fonts/truetype/noto"  # inside the package
NOTO_SYSTEM_DIR = Path("/") / NOTO_DEB_FONT_DIR  # where an installed package puts them
FONTS_ENV = "NTKPAPER_GLYPH_FONTS"  # a folder of other fonts: an unpinned set, labelled so
# fonts that are not one alphabet (Latin/Greek/Cyrillic, symbols, numerals, music, ideograms)
_SKIP_FONT = re.compile(r"^Noto(Sans|Serif)(Display|Mono|Math|Symbols|Symbols2|Music|"
                        r"MayanNumerals|IndicSiyaqNumbers|SignWriting|Duployan|"
                        r"EgyptianHieroglyphs|AnatolianHieroglyphs|Cuneiform|Tangut|Nushu|"
                        r"LinearA|Yi|Bamum|CanadianAboriginal)?-Regular\.ttf$")


@dataclass
class CharacterSet:
    images: np.ndarray          # (C, D, S, S) float32, ink = 1
    alphabet: np.ndarray        # (C,) int
    alphabets: list[str]
    split: np.ndarray           # (C,) "background" | "evaluation"
    meta: dict = field(default_factory=dict)

    def subset(self, split: str) -> CharacterSet:
        """The characters of one split (``"background"`` or ``"evaluation"``)."""
        if split not in ("background", "evaluation"):
            raise ValueError(f"split must be 'background' or 'evaluation', got {split!r}")
        keep = self.split == split
        meta = dict(self.meta)
        if len(meta.get("characters", ())) == len(keep):  # one per character: keep those kept
            meta["characters"] = [c for c, k in zip(meta["characters"], keep) if k]
        return CharacterSet(self.images[keep], self.alphabet[keep], self.alphabets,
                            self.split[keep], meta)


# ---------------------------------------------------------------------------------------------
# Omniglot


def _resize(img: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    pil = Image.fromarray((img * 255).astype(np.uint8))
    return np.asarray(pil.resize((side, side), Image.BILINEAR), np.float32) / 255.0


def read_omniglot_zip(path: str | Path, md5: str | None = None, side: int = 28,
                      split: str | None = None) -> CharacterSet:
    """Read ``images_background.zip`` / ``images_evaluation.zip`` (the official format).

    Images are inverted (ink = 1) and resized to ``side`` x ``side`` (MAML's 28). With ``md5`` the
    archive is verified first. Raises ``ValueError`` for a wrong checksum, a member that does not
    fit the layout, or characters with different numbers of drawings.
    """
    from PIL import Image

    path = Path(path)
    if md5 is not None:
        got = hashlib.md5(path.read_bytes()).hexdigest()
        if got != md5:
            raise ValueError(f"{path.name}: md5 {got} != expected {md5}; delete the file and "
                             "download it again")
    split = split or ("evaluation" if "evaluation" in path.name else "background")
    chars: dict[tuple[str, str], list[np.ndarray]] = {}
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".png"):
                continue
            parts = name.split("/")
            if len(parts) != 4:
                raise ValueError(f"{path.name}: unexpected member {name!r}; expected "
                                 "images_*/<alphabet>/<character>/<file>.png")
            img = np.asarray(Image.open(io.BytesIO(zf.read(name))).convert("L"), np.float32)
            chars.setdefault((parts[1], parts[2]), []).append(1.0 - img / 255.0)
    if not chars:
        raise ValueError(f"{path.name} holds no PNG drawings")
    counts = {len(v) for v in chars.values()}
    if len(counts) != 1:
        raise ValueError(f"{path.name}: characters have different numbers of drawings {counts}")
    alphabets = sorted({a for a, _ in chars})
    keys = sorted(chars)
    images = np.stack([np.stack([_resize(d, side) for d in chars[k]]) for k in keys])
    return CharacterSet(images, np.asarray([alphabets.index(a) for a, _ in keys]), alphabets,
                        np.full(len(keys), split), {"title": "Omniglot", "stand_in": False})


def load_omniglot(side: int = 28) -> CharacterSet:
    """Both Omniglot splits from ``data/omniglot/`` or :data:`OMNIGLOT_URL` (md5-verified)."""
    folder = paths.data_dir() / "omniglot"
    sets, errors = [], []
    for stem, md5 in OMNIGLOT_MD5.items():
        zpath = folder / f"{stem}.zip"
        if not zpath.exists():
            try:
                download(OMNIGLOT_URL.format(stem), zpath)
            except SourceError as exc:
                errors.append(str(exc))
                continue
        sets.append(read_omniglot_zip(zpath, md5, side))
    if errors:
        raise DatasetUnavailable("Omniglot is not available. Tried:\n  " + "\n  ".join(errors)
                                 + f"\nPut images_background.zip and images_evaluation.zip in "
                                   f"{folder}, or use the glyph stand-in (load_glyphs()).")
    bg, ev = sets
    offset = len(bg.alphabets)
    return CharacterSet(np.concatenate([bg.images, ev.images]),
                        np.concatenate([bg.alphabet, ev.alphabet + offset]),
                        bg.alphabets + ev.alphabets, np.concatenate([bg.split, ev.split]),
                        {"title": "Omniglot", "stand_in": False})


# ---------------------------------------------------------------------------------------------
# Glyph stand-in: the pinned fonts


def pinned_font_folder() -> Path:
    """Where the pinned fonts are gathered: ``data/raw/glyph-fonts/fonts-noto-core_<version>``."""
    return paths.data_dir() / "raw" / "glyph-fonts" / f"{NOTO_PACKAGE}_{NOTO_VERSION}"


def candidate_fonts(font_dir: str | Path) -> list[Path]:
    """The fonts of a folder that the builder considers, sorted by name: ``Noto*-Regular.ttf``
    single-script sans fonts (no serif, UI or looped variants, none of :data:`_SKIP_FONT`)."""
    return sorted(p for p in Path(font_dir).glob("Noto*-Regular.ttf")
                  if not _SKIP_FONT.match(p.name) and "Serif" not in p.name
                  and "UI" not in p.name and "Looped" not in p.name)


def _gather(src_dir: Path, dest: Path, wanted: set[str]) -> set[str]:
    """Copy into ``dest`` those of the ``wanted`` pinned fonts that ``src_dir`` holds
    byte-identical (same sha256); returns their names."""
    got = set()
    for name in sorted(wanted):
        src = src_dir / name
        if src.is_file() and file_digest(src) == pins.FONTS[name]:
            atomic_write(dest / name, lambda p, s=src: shutil.copyfile(s, p))
            got.add(name)
    return got


def pinned_font_dir() -> Path:
    """A folder holding exactly the pinned fonts (:data:`ntkpaper.data.glyph_pins.FONTS`), each
    verified by its sha256: :func:`pinned_font_folder`, filled from the first place that has a
    byte-identical copy of each: that folder itself (fonts put there by hand included), the
    installed fonts (:data:`NOTO_SYSTEM_DIR`, used only where a file is identical), a ``.deb`` of
    the pinned version in ``data/raw/deb/``, ``apt-get download fonts-noto-core=<version>``.

    Raises:
        DatasetUnavailable: some pinned fonts could not be found (names them, every place tried
            and how to provide them).
    """
    if pins.PACKAGE != NOTO_PACKAGE or pins.VERSION != NOTO_VERSION:
        raise ChecksumMismatch(f"ntkpaper/data/glyph_pins.py was made from {pins.PACKAGE} "
                               f"{pins.VERSION}, the code pins {NOTO_PACKAGE} {NOTO_VERSION}: run "
                               "`python -m ntkpaper.data.glyphs --write-pins`")
    dest = pinned_font_folder()
    dest.mkdir(parents=True, exist_ok=True)
    for extra in dest.glob("Noto*-Regular.ttf"):  # the builder globs this folder: only the pins
        if extra.name not in pins.FONTS:
            extra.unlink()
    wanted = {name for name, sha in pins.FONTS.items()
              if not (dest / name).is_file() or file_digest(dest / name) != sha}
    if not wanted:
        return dest
    n_wanted = len(wanted)
    tried = [f"{dest}: {n_wanted} of {len(pins.FONTS)} missing or different"]
    got = _gather(NOTO_SYSTEM_DIR, dest, wanted)
    tried.append(f"installed fonts in {NOTO_SYSTEM_DIR}: {len(got)} of {len(wanted)} identical "
                 "(not installed, or another version of the package)" if len(got) < len(wanted)
                 else f"installed fonts in {NOTO_SYSTEM_DIR}: all identical")
    wanted -= got
    debdir = paths.data_dir() / "raw" / "deb"
    for attempt in range(2):  # a damaged extraction is unpacked again, once
        if not wanted:
            break
        try:
            root = apt_extract(NOTO_PACKAGE, debdir, NOTO_VERSION, NOTO_DEB_SHA256)
        except SourceError as err:
            tried.append(f"{NOTO_DEB}: {err}")
            break
        wanted -= _gather(root / NOTO_DEB_FONT_DIR, dest, wanted)
        if wanted:
            tried.append(f"{root}: {len(wanted)} pinned fonts missing or different"
                         + ("; removed, unpacking the verified .deb again" if attempt == 0
                            else ""))
            shutil.rmtree(root)
    if wanted:
        lines = "\n".join(f"  - {t}" for t in tried)
        missing = ", ".join(sorted(wanted)[:4]) + (", ..." if len(wanted) > 4 else "")
        raise DatasetUnavailable(
            f"The glyph stand-in is rendered from the fonts of Debian's {NOTO_PACKAGE} "
            f"{NOTO_VERSION} (Debian 12 bookworm; {NOTO_DEB} sha256 {NOTO_DEB_SHA256[:16]}...), "
            f"each pinned by its sha256 in ntkpaper/data/glyph_pins.py; {len(wanted)} of the "
            f"{len(pins.FONTS)} pinned fonts were not found ({missing}). Places tried:\n{lines}\n"
            f"To provide them: put {NOTO_DEB} (from a Debian 12 mirror, pool/main/f/fonts-noto/, "
            f"or Debian's snapshot archive) in {debdir}, or copy the fonts listed in "
            f"glyph_pins.FONTS, byte-identical, into {dest}. To run anyway with other fonts, set "
            f"{FONTS_ENV} to a folder of Noto *-Regular.ttf fonts: that glyph set is labelled "
            "UNPINNED and its numbers differ from the committed ones.")
    return dest


def noto_font_dir() -> Path:
    """The folder the glyph stand-in is rendered from: the pinned fonts
    (:func:`pinned_font_dir`), or, if :data:`FONTS_ENV` is set, the folder it names (an unpinned
    glyph set, labelled so)."""
    override = os.environ.get(FONTS_ENV)
    if not override:
        return pinned_font_dir()
    folder = Path(override).expanduser().resolve()
    if not candidate_fonts(folder):
        raise DatasetUnavailable(f"{FONTS_ENV}={override}: no Noto*-Regular.ttf fonts there")
    return folder


# ---------------------------------------------------------------------------------------------
# Glyph stand-in: rendering


def font_alphabet(font_path: Path, min_chars: int, max_chars: int) -> tuple[str, list[str]]:
    """(script name, letters) of a single-script font: the letters (Unicode categories Lu, Ll,
    Lo) of the font's most common script, every ``k``-th one so that at most ``max_chars`` remain;
    ``("", [])`` if fewer than ``min_chars``."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(font_path), lazy=True).getBestCmap() or {}
    letters: dict[str, list[str]] = {}
    for cp in sorted(cmap):
        ch = chr(cp)
        if cp < 0x250 or unicodedata.category(ch) not in ("Lu", "Ll", "Lo"):
            continue  # skip basic Latin and non-letters
        name = unicodedata.name(ch, "")
        words = name.split()
        if not words or words[0] == "LATIN":
            continue
        script = " ".join(words[:2]) if words[0] in ("OLD", "INSCRIPTIONAL", "IMPERIAL",
                                                      "CAUCASIAN", "LINEAR", "MENDE", "BASSA",
                                                      "KAYAH", "TAI", "OL", "SORA", "MEETEI",
                                                      "SYLOTI", "PAU", "HANIFI", "WARANG",
                                                      "MASARAM", "GUNJALA", "ZANABAZAR",
                                                      "NYIAKENG", "PSALTER", "NEW", "PAHAWH",
                                                      "MEROITIC") else words[0]
        letters.setdefault(script, []).append(ch)
    if not letters:
        return "", []
    script, chars = max(letters.items(), key=lambda kv: len(kv[1]))
    if len(chars) < min_chars:
        return "", []
    step = int(np.ceil(len(chars) / max_chars))
    return script.title(), chars[::step][:max_chars]


def render_glyph(font, ch: str, side: int) -> np.ndarray:
    """(side, side) float32 image of ``ch`` (ink = 1), scaled to fill 70% of the box, centred."""
    from PIL import Image, ImageDraw

    big = 4 * side
    img = Image.new("L", (big, big), 0)
    ImageDraw.Draw(img).text((big // 2, big // 2), ch, fill=255, font=font, anchor="mm")
    arr = np.asarray(img, np.float32) / 255.0
    rows, cols = np.nonzero(arr > 0.1)
    if len(rows) == 0:
        return np.zeros((side, side), np.float32)
    crop = arr[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = 0.7 * side / max(h, w)
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    out = Image.new("L", (side, side), 0)
    out.paste(small, ((side - small.width) // 2, (side - small.height) // 2))
    return np.asarray(out, np.float32) / 255.0


def distort(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """One random "drawing" of a glyph (S, S): affine (rotation +-12 deg, scale 0.85-1.1 per axis,
    shear +-0.15, shift +-8% of the side), a smooth elastic displacement (~3% of the side) and
    stroke thickening/thinning, all scaled by ``strength``.

    The 2x2 algebra is written out and uses :mod:`math`'s sine and cosine: a BLAS product or
    numpy's CPU-dispatched sine may round differently on another processor."""
    from scipy import ndimage

    S = img.shape[0]
    s = strength
    th = math.radians(float(rng.uniform(-12, 12)) * s)
    sc0, sc1 = (1 + rng.uniform(-0.15, 0.1, 2) * s).tolist()
    sh = float(rng.uniform(-0.15, 0.15)) * s
    shift = rng.uniform(-0.08, 0.08, 2) * S * s
    cos, sin = math.cos(th), math.sin(th)
    # A = rotation(th) @ [[1, sh], [0, 1]] @ diag(sc0, sc1); each output pixel samples A^-1 (p - c)
    a00, a01 = cos * sc0, (cos * sh - sin) * sc1
    a10, a11 = sin * sc0, (sin * sh + cos) * sc1
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64)
    c = (S - 1) / 2
    y, x = yy - c - shift[0], xx - c - shift[1]
    # smooth field: 4x4 random values interpolated to S x S (cubic), peak 3% of the side
    disp = [ndimage.zoom(rng.uniform(-1, 1, (4, 4)), S / 4, order=3)[:S, :S] * 0.03 * S * s
            for _ in range(2)]
    src = [i00 * y + i01 * x + c + disp[0], i10 * y + i11 * x + c + disp[1]]
    out = ndimage.map_coordinates(img, src, order=1, mode="constant", cval=0.0)
    r = rng.uniform()
    if r < 0.3 * s:
        out = ndimage.grey_dilation(out, size=(2, 2))
    elif r > 1 - 0.2 * s:
        out = ndimage.grey_erosion(out, size=(2, 2)) * 0.5 + out * 0.5
    return np.clip(out, 0, 1).astype(np.float32)


def build_glyphs(font_dir: Path, n_background: int = 30, n_evaluation: int = 20,
                 drawings: int = 20, side: int = 28, min_chars: int = 14, max_chars: int = 40,
                 seed: int = 0) -> CharacterSet:
    """Render the glyph stand-in from a directory of single-script fonts
    (:func:`candidate_fonts`).

    Alphabets are the fonts with at least ``min_chars`` distinct rendered letters; a seeded
    shuffle assigns ``n_background`` of them to the background split and the next
    ``n_evaluation`` to the evaluation split (disjoint alphabets, as Omniglot). Characters whose
    rendering is empty, or identical to another character's, are dropped. Text is drawn with
    Pillow's basic layout (FreeType alone), whatever libraries the system has. ``meta`` names
    each character (``characters``) and each alphabet's font file (``fonts``).
    """
    from PIL import ImageFont

    fonts = candidate_fonts(font_dir)
    rng = np.random.default_rng(seed)
    need = n_background + n_evaluation
    rendered, seen = [], set()
    for i in rng.permutation(len(fonts)):   # seeded order; stop once enough alphabets rendered
        script, chars = font_alphabet(fonts[i], min_chars, max_chars)
        if not script or script in seen:      # one font per script (e.g. Tifinagh variants)
            continue
        seen.add(script)
        font = ImageFont.truetype(str(fonts[i]), size=4 * side,
                                  layout_engine=ImageFont.Layout.BASIC)
        protos, kept, hashes = [], [], set()
        for ch in chars:
            g = render_glyph(font, ch, 2 * side)
            key = hashlib.sha1((g > 0.5).tobytes()).hexdigest()
            if g.sum() < 4 or key in hashes:
                continue
            hashes.add(key)
            protos.append(g)
            kept.append(ch)
        if len(protos) >= min_chars:
            rendered.append((script, fonts[i].name, kept, protos))
        if len(rendered) == need:
            break
    if len(rendered) < need:
        raise ValueError(f"only {len(rendered)} alphabets with >= {min_chars} letters in "
                         f"{font_dir}; asked for {need}")
    images, alphabet, split, characters = [], [], [], []
    for a, (_script, _font, kept, protos) in enumerate(rendered):
        for ch, g in zip(kept, protos):
            draws = [distort(g, rng) for _ in range(drawings)]
            images.append(np.stack([_resize(d, side) for d in draws]))
            alphabet.append(a)
            split.append("background" if a < n_background else "evaluation")
            characters.append(ch)
    return CharacterSet(np.stack(images).astype(np.float32), np.asarray(alphabet),
                        [s for s, *_ in rendered], np.asarray(split),
                        {"title": GLYPH_TITLE, "stand_in": True, "characters": characters,
                         "fonts": [f for _, f, *_ in rendered]})


# ---------------------------------------------------------------------------------------------
# Glyph stand-in: the verified cache

GLYPH_TITLE = "glyph stand-in for Omniglot (Noto fonts, synthetic distortions)"
_GLYPH_ARRAYS = ("images", "alphabet", "alphabets", "split", "characters", "fonts")


def glyph_set_key(n_background: int = 30, n_evaluation: int = 20, drawings: int = 20,
                  side: int = 28, seed: int = 0) -> str:
    """The name of a glyph set (its cache file's stem and its key in ``glyph_pins.SETS``)."""
    return f"glyphs_b{n_background}_e{n_evaluation}_d{drawings}_s{side}_seed{seed}"


def glyph_arrays(cs: CharacterSet) -> dict[str, np.ndarray]:
    """The arrays a glyph set is cached as and checksummed by (images as 8-bit grey levels)."""
    return {"images": np.round(cs.images * 255).astype(np.uint8),
            "alphabet": np.asarray(cs.alphabet, np.int64),
            "alphabets": np.asarray(cs.alphabets, dtype=str),
            "split": np.asarray(cs.split, dtype=str),
            "characters": np.asarray(cs.meta.get("characters", []), dtype=str),
            "fonts": np.asarray(cs.meta.get("fonts", []), dtype=str)}


def _software() -> dict[str, str]:
    """The versions the rendering depends on (recorded with the pins)."""
    import PIL
    import scipy
    from PIL import features

    return {"pillow": PIL.__version__, "freetype": str(features.version("freetype2")),
            "numpy": np.__version__, "scipy": scipy.__version__,
            "unicode": unicodedata.unidata_version}


def _read_glyph_cache(path: Path, pin: dict | None) -> tuple[CharacterSet | None, str]:
    """(the cached set, "") if ``path`` reads and its arrays have the pinned sha256 (or, for a
    set with no pin, the sha256 recorded in it); else (``None``, what is wrong)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = sorted({*_GLYPH_ARRAYS, "sha256", "title", "pinned"} - set(z.files))
            if missing:
                return None, f"lacks {missing} (written by an older version)"
            arrays = {k: z[k] for k in _GLYPH_ARRAYS}
            recorded, title, pinned = str(z["sha256"]), str(z["title"]), bool(z["pinned"])
    except Exception as err:  # truncated or corrupt: zipfile, zlib, numpy formats all differ
        return None, f"cannot be read ({type(err).__name__}: {err})"
    sha = arrays_sha256(arrays)
    expected = pin["sha256"] if pin else recorded
    if sha != expected:
        return None, (f"has sha256 {sha[:16]}..., {'pinned' if pin else 'recorded'} "
                      f"{expected[:16]}... (corrupt or other data)")
    meta = {"title": title, "stand_in": True, "pinned": pinned, "sha256": sha,
            "characters": [str(c) for c in arrays["characters"]],
            "fonts": [str(f) for f in arrays["fonts"]]}
    return CharacterSet(arrays["images"].astype(np.float32) / 255.0, arrays["alphabet"],
                        [str(a) for a in arrays["alphabets"]], arrays["split"].astype(str),
                        meta), ""


def _codepoints(chars) -> str:
    return " ".join(f"{ord(c):04X}" for c in chars)


def _mismatch(key: str, cs: CharacterSet, sha: str, pin: dict, cache: Path) -> str:
    """What differs between a glyph set built here and its pin, and what to do."""
    lines = [f"The glyph set {key} built here has sha256 {sha[:16]}..., pinned "
             f"{pin['sha256'][:16]}... (ntkpaper/data/glyph_pins.py)."]
    chars = np.asarray(cs.meta["characters"])
    built = [(name, cs.meta["fonts"][a], _codepoints(chars[cs.alphabet == a]))
             for a, name in enumerate(cs.alphabets)]
    pinned = [tuple(p) for p in pin["alphabets"]]
    if [b[:2] for b in built] != [p[:2] for p in pinned]:
        lines.append(f"Alphabets differ: built {[b[0] for b in built]}, pinned "
                     f"{[p[0] for p in pinned]}.")
    else:
        for (name, _, b), (_, _, p) in zip(built, pinned):
            if b != p:
                lines.append(f"Alphabet {name}: {len(b.split())} characters built, "
                             f"{len(p.split())} pinned; built only: {_only(b, p)}; "
                             f"pinned only: {_only(p, b)}.")
        if len(lines) == 1:
            lines.append("Same alphabets and characters as pinned: the rendered or distorted "
                         "images differ.")
    here = _software()
    differ = "; ".join(f"{k} {v} here, {pins.SOFTWARE.get(k)} pinned" for k, v in here.items()
                       if v != pins.SOFTWARE.get(k))
    lines.append("The fonts are the pinned ones (each verified by its sha256), so the software "
                 + (f"differs: {differ}." if differ else
                    f"or the machine differs (the versions agree with the pins: {here})."))
    lines.append(f"To fix: install requirements.lock (`make env`) and retry (the cache {cache} "
                 "was not written); if the versions agree, report this message with the "
                 "machine's `lscpu`.")
    return "\n".join(lines)


def _only(x: str, y: str) -> str:
    """The code points of ``x`` not in ``y`` (space-separated hex), as ``U+XXXX, ...``."""
    return ", ".join(f"U+{c}" for c in sorted(set(x.split()) - set(y.split()))) or "none"


def _folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in candidate_fonts(folder):
        h.update(f"{p.name}:{file_digest(p)};".encode())
    return h.hexdigest()


def load_glyphs(n_background: int = 30, n_evaluation: int = 20, drawings: int = 20,
                side: int = 28, seed: int = 0) -> CharacterSet:
    """The glyph stand-in, cached in ``data/glyphs_<parameters>.npz`` (written atomically, images
    as 8-bit grey levels) and verified on every load: against the sha256 pinned in
    ``glyph_pins.SETS`` for the sets the notebook uses, else against the sha256 recorded in the
    cache when it was built (from the pinned fonts all the same). A cache that fails is removed
    and rebuilt once, with a :class:`ntkpaper.data.sources.DataRebuiltWarning`. The first call
    builds, caches and then reads the cache, so it returns exactly what every later call returns.

    With :data:`FONTS_ENV` set, the set is rendered from the fonts of that folder instead:
    cached under its own name, and its title says UNPINNED.

    Raises:
        DatasetUnavailable: the pinned fonts cannot be found (says how to provide them).
        ChecksumMismatch: the set built here does not match its pin (says what differs).
    """
    key = glyph_set_key(n_background, n_evaluation, drawings, side, seed)
    override = os.environ.get(FONTS_ENV)
    name = f"{key}_unpinned-{_folder_digest(noto_font_dir())[:12]}" if override else key
    pin = None if override else pins.SETS.get(key)
    cache = paths.data_dir() / f"{name}.npz"
    if cache.exists():
        cs, problem = _read_glyph_cache(cache, pin)
        if cs is not None:
            return cs
        ensure_writable(f"the glyph set (its cache {problem})")
        warn_rebuild(f"the glyph set {cache} {problem}; removed, rebuilding it once")
        cache.unlink(missing_ok=True)
    ensure_writable("the glyph set")
    font_dir = noto_font_dir()
    pinned = font_dir == pinned_font_folder()
    cs = build_glyphs(font_dir, n_background, n_evaluation, drawings, side, seed=seed)
    arrays = glyph_arrays(cs)
    sha = arrays_sha256(arrays)
    if pin is not None and sha != pin["sha256"]:
        raise ChecksumMismatch(_mismatch(key, cs, sha, pin, cache))
    title = GLYPH_TITLE if pinned else (f"glyph stand-in for Omniglot (UNPINNED fonts from "
                                        f"{font_dir}, synthetic distortions)")

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays, sha256=sha, title=title, pinned=pinned)

    atomic_write(cache, write)
    cs, problem = _read_glyph_cache(cache, pin)
    if cs is None:
        raise ChecksumMismatch(f"the glyph set just written to {cache} {problem} when read "
                               "back: check the disk and the data directory")
    return cs


def load_characters(name: str = "glyphs", **kwargs) -> CharacterSet:
    """``"omniglot"`` (the real data) or ``"glyphs"`` (the stand-in)."""
    if name == "omniglot":
        return load_omniglot(kwargs.get("side", 28))
    if name == "glyphs":
        return load_glyphs(**kwargs)
    raise ValueError(f"unknown character set {name!r}; choose 'omniglot' or 'glyphs'")


# ---------------------------------------------------------------------------------------------
# Making the pins

# the glyph sets the notebook's profiles use (cpu and full; smoke), pinned in glyph_pins.SETS
PINNED_SETS = ({"n_background": 30, "n_evaluation": 20, "drawings": 20, "side": 28, "seed": 0},
               {"n_background": 4, "n_evaluation": 2, "drawings": 4, "side": 28, "seed": 0})


def _wrap(words: list[str], per_line: int, indent: str) -> str:
    chunks = [" ".join(words[i:i + per_line]) for i in range(0, len(words), per_line)] or [""]
    return "\n".join(f'{indent}"{c}{" " if i < len(chunks) - 1 else ""}"'
                     for i, c in enumerate(chunks))


def write_pins(path: Path | None = None) -> Path:
    """Regenerate ``glyph_pins.py`` from the pinned ``.deb`` (verified by its sha256 and unpacked
    afresh): the sha256 of every candidate font, and for each of :data:`PINNED_SETS` its
    alphabets, characters and arrays' sha256, with the software versions used."""
    path = path or Path(__file__).with_name("glyph_pins.py")
    debdir = paths.data_dir() / "raw" / "deb"
    shutil.rmtree(debdir / f"{NOTO_PACKAGE}_{NOTO_VERSION}", ignore_errors=True)
    root = apt_extract(NOTO_PACKAGE, debdir, NOTO_VERSION, NOTO_DEB_SHA256) / NOTO_DEB_FONT_DIR
    fonts = {p.name: file_digest(p) for p in candidate_fonts(root)}
    out = ['"""Pins of the glyph stand-in (:mod:`ntkpaper.data.glyphs`), generated by',
           '``python -m ntkpaper.data.glyphs --write-pins``: do not edit by hand.', '',
           f"FONTS: the {len(fonts)} fonts the builder considers in {NOTO_PACKAGE} {NOTO_VERSION} "
           "(file: sha256).",
           "SETS: for each glyph set the notebook's profiles use, the sha256 of its arrays",
           "(``arrays_sha256(glyphs.glyph_arrays(set))``), its numbers of background and "
           "evaluation",
           "characters, and its alphabets in order: (script, font file, code points of the "
           "characters).",
           "SOFTWARE: the versions these were made with.", '"""', "",
           f'PACKAGE = "{NOTO_PACKAGE}"', f'VERSION = "{NOTO_VERSION}"',
           "SOFTWARE = {", *[f'    "{k}": "{v}",' for k, v in _software().items()], "}", "",
           "FONTS = {"]
    for name, sha in fonts.items():
        out += [f'    "{name}":', f'        "{sha}",']
    out += ["}", "", "SETS = {"]
    for params in PINNED_SETS:
        key = glyph_set_key(**params)
        print(f"building {key} ...", flush=True)
        cs = build_glyphs(root, **params)
        sha = arrays_sha256(glyph_arrays(cs))
        chars = np.asarray(cs.meta["characters"])
        out += [f'    "{key}": {{', f'        "sha256": "{sha}",',
                f'        "background": {int((cs.split == "background").sum())},',
                f'        "evaluation": {int((cs.split == "evaluation").sum())},',
                '        "alphabets": [']
        for a, script in enumerate(cs.alphabets):
            points = _codepoints(chars[cs.alphabet == a]).split()
            out += [f'            ("{script}", "{cs.meta["fonts"][a]}",',
                    _wrap(points, 12, "             ") + "),"]
        out += ["        ],", "    },"]
    out += ["}", ""]
    atomic_write_text(path, "\n".join(out))
    return path


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-pins"]:
        sys.exit("usage: python -m ntkpaper.data.glyphs --write-pins")
    print(f"wrote {write_pins()}")
