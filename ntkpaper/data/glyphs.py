"""Few-shot character data for notebook 03: the real Omniglot loader and a glyph stand-in.

**Omniglot** (Lake et al. 2015): 1,623 handwritten characters from 50 alphabets, 20 drawings
each; ``images_background.zip`` (30 alphabets, 964 characters) and ``images_evaluation.zip``
(20 alphabets, 659 characters) from :data:`OMNIGLOT_URL`, verified by the md5 sums every
Omniglot loader pins (torchvision's). Members are ``images_background/<Alphabet>/character01/
<id>_<drawer>.png``: 105x105 1-bit images, strokes black (0) on white (1).
:func:`read_omniglot_zip` reads that format; tests run it on generated miniatures.

**Glyph stand-in** (no offline Omniglot here): characters of many scripts rendered from the Noto
fonts in Debian's ``fonts-noto-core`` package (``apt-get download`` + ``dpkg-deb -x``, no
install), each with ``drawings`` randomly distorted copies (affine: rotation, scale, shear,
shift; a smooth elastic displacement; stroke thickening or thinning), so that a "character" is a
class with intra-class variation like handwriting, and the alphabets are split into disjoint
background and evaluation sets as in Omniglot. It is a stand-in: printed glyphs with synthetic
distortions, not pen strokes, and every figure and ledger says so.

Both loaders return a :class:`CharacterSet`: ``images`` (C, D, S, S) float32 in [0, 1] with ink
= 1 (C characters, D drawings, side S), ``alphabet`` (C,) alphabet index per character,
``alphabets`` (names), ``split`` (C,) ``"background"`` or ``"evaluation"``, ``meta``.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ntkpaper import paths
from ntkpaper._io import atomic_write
from ntkpaper.data.sources import DatasetUnavailable, SourceError, apt_extract, download

OMNIGLOT_URL = "https://github.com/brendenlake/omniglot/raw/master/python/{}.zip"
OMNIGLOT_MD5 = {"images_background": "68d2efa1b9178cc56df9314c21c6e718",
                "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811"}
NOTO_PACKAGE = "fonts-noto-core"
NOTO_SYSTEM_DIR = Path("/usr/share/fonts/truetype/noto")
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
        return CharacterSet(self.images[keep], self.alphabet[keep], self.alphabets,
                            self.split[keep], dict(self.meta))


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
# Glyph stand-in


def noto_font_dir() -> Path:
    """The Noto fonts: installed system-wide, or ``fonts-noto-core`` fetched with ``apt-get
    download`` and unpacked under ``data/raw/deb`` (no installation)."""
    if any(NOTO_SYSTEM_DIR.glob("NotoSans*-Regular.ttf")):
        return NOTO_SYSTEM_DIR
    try:
        return apt_extract(NOTO_PACKAGE, paths.data_dir() / "raw" / "deb") / \
            str(NOTO_SYSTEM_DIR).lstrip("/")
    except SourceError as err:
        raise DatasetUnavailable(f"the glyph set needs the fonts of Debian's {NOTO_PACKAGE}: "
                                 f"{err}. Install the package or copy its fonts to "
                                 f"{NOTO_SYSTEM_DIR}.") from err


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
    stroke thickening/thinning, all scaled by ``strength``."""
    from scipy import ndimage

    S = img.shape[0]
    s = strength
    th = np.deg2rad(rng.uniform(-12, 12) * s)
    sc = 1 + rng.uniform(-0.15, 0.1, 2) * s
    sh = rng.uniform(-0.15, 0.15) * s
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    A = rot @ np.array([[1, sh], [0, 1]]) @ np.diag(sc)
    shift = rng.uniform(-0.08, 0.08, 2) * S * s
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64)
    c = (S - 1) / 2
    coords = np.linalg.inv(A) @ np.stack([yy.ravel() - c - shift[0], xx.ravel() - c - shift[1]])
    # smooth field: 4x4 random values interpolated to S x S (cubic), peak 3% of the side
    disp = [ndimage.zoom(rng.uniform(-1, 1, (4, 4)), S / 4, order=3)[:S, :S] * 0.03 * S * s
            for _ in range(2)]
    src = [coords[0].reshape(S, S) + c + disp[0], coords[1].reshape(S, S) + c + disp[1]]
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
    """Render the glyph stand-in from a directory of single-script fonts.

    Alphabets are the fonts with at least ``min_chars`` distinct rendered letters; a seeded
    shuffle assigns ``n_background`` of them to the background split and the next
    ``n_evaluation`` to the evaluation split (disjoint alphabets, as Omniglot). Characters whose
    rendering is empty, or identical to another character's, are dropped.
    """
    from PIL import ImageFont

    fonts = sorted(p for p in Path(font_dir).glob("Noto*-Regular.ttf")
                   if not _SKIP_FONT.match(p.name) and "Serif" not in p.name
                   and "UI" not in p.name and "Looped" not in p.name)
    rng = np.random.default_rng(seed)
    need = n_background + n_evaluation
    rendered, seen = [], set()
    for i in rng.permutation(len(fonts)):   # seeded order; stop once enough alphabets rendered
        script, chars = font_alphabet(fonts[i], min_chars, max_chars)
        if not script or script in seen:      # one font per script (e.g. Tifinagh variants)
            continue
        seen.add(script)
        font = ImageFont.truetype(str(fonts[i]), size=4 * side)
        protos, hashes = [], set()
        for ch in chars:
            g = render_glyph(font, ch, 2 * side)
            key = hashlib.sha1((g > 0.5).tobytes()).hexdigest()
            if g.sum() < 4 or key in hashes:
                continue
            hashes.add(key)
            protos.append(g)
        if len(protos) >= min_chars:
            rendered.append((script, protos))
        if len(rendered) == need:
            break
    if len(rendered) < need:
        raise ValueError(f"only {len(rendered)} alphabets with >= {min_chars} letters in "
                         f"{font_dir}; asked for {need}")
    images, alphabet, split = [], [], []
    for a, (_script, protos) in enumerate(rendered):
        for g in protos:
            draws = [distort(g, rng) for _ in range(drawings)]
            images.append(np.stack([_resize(d, side) for d in draws]))
            alphabet.append(a)
            split.append("background" if a < n_background else "evaluation")
    return CharacterSet(np.stack(images).astype(np.float32), np.asarray(alphabet),
                        [s for s, _ in rendered], np.asarray(split),
                        {"title": "glyph stand-in for Omniglot (Noto fonts, synthetic "
                                  "distortions)", "stand_in": True})


def load_glyphs(n_background: int = 30, n_evaluation: int = 20, drawings: int = 20,
                side: int = 28, seed: int = 0) -> CharacterSet:
    """The glyph stand-in, cached in ``data/glyphs_<parameters>.npz`` (written atomically, images
    as 8-bit grey levels). The first call builds, caches and then reads the cache, so it returns
    exactly what every later call returns."""
    name = f"glyphs_b{n_background}_e{n_evaluation}_d{drawings}_s{side}_seed{seed}.npz"
    cache = paths.data_dir() / name
    if not cache.exists():
        cs = build_glyphs(noto_font_dir(), n_background, n_evaluation, drawings, side, seed=seed)

        def write(p: Path) -> None:
            with open(p, "wb") as f:
                np.savez_compressed(f, images=np.round(cs.images * 255).astype(np.uint8),
                                    alphabet=cs.alphabet, alphabets=np.asarray(cs.alphabets),
                                    split=cs.split, title=cs.meta["title"])

        atomic_write(cache, write)
    z = np.load(cache, allow_pickle=False)
    return CharacterSet(z["images"].astype(np.float32) / 255.0, z["alphabet"],
                        [str(a) for a in z["alphabets"]], z["split"].astype(str),
                        {"title": str(z["title"]), "stand_in": True})


def load_characters(name: str = "glyphs", **kwargs) -> CharacterSet:
    """``"omniglot"`` (the real data) or ``"glyphs"`` (the stand-in)."""
    if name == "omniglot":
        return load_omniglot(kwargs.get("side", 28))
    if name == "glyphs":
        return load_glyphs(**kwargs)
    raise ValueError(f"unknown character set {name!r}; choose 'omniglot' or 'glyphs'")
