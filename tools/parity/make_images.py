"""Writes the image fixtures under tests/Crt.Tests/data/images/ and PIL's reading of them.

  png/*.png              every PNG colour type and bit depth crt reads: gray 1/2/4/8/16 bits, RGB 8/16,
                         palette 1/2/4/8 (one with tRNS), gray+alpha 8/16, RGBA 8/16; Adam7-interlaced
                         variants (odd sizes and one 3x2 image, whose first passes are empty); every row
                         cycles through the five filter types and the compressed stream is cut into
                         several IDAT chunks. These are written by the small encoder below (PIL writes
                         neither interlaced nor 16-bit RGB PNGs, nor chosen filters). Four more files
                         (pil_*.png) are written by PIL's own encoder.
  png_expected.safetensors  for each PNG (by file stem), what PIL decodes, as crt reduces it: gray files
                         [H, W] uint8, colour and palette files [H, W, 3] uint8; alpha dropped; 16-bit
                         samples reduced to their high byte (PIL does so for RGB/RGBA/LA; its 16-bit gray
                         "I" images are shifted right by 8 here). The script checks that PIL reads back
                         exactly the samples the encoder wrote, so encoder and reference agree.
  jpeg/*.jpg             gray, RGB 4:2:0 (odd size), progressive RGB, RGB 4:2:2 with an EXIF orientation, and
                         CMYK (Adobe-inverted, as libjpeg writes it), written by PIL.
  jpeg_expected.safetensors  PIL's decoding of each JPEG (its libjpeg is Debian's libjpeg62-turbo); the CMYK
                         file as PIL's convert("RGB").
  webp/, bmp/, gif/      WebP (lossless and lossy, with and without alpha, animated), BMP (24-bit, 8-bit gray
                         and palette, 1-bit, 32-bit) and GIF (palette, gray, interlaced or not,
                         with a transparent index, animated), written by PIL.
  webp/bmp/gif_expected.safetensors  PIL's reading of the first frame: gray modes [H, W], others
                         convert("RGB") [H, W, 3]; gif's transparent_mask marks the transparent index.
  resize.safetensors     sources and PIL 9.4 outputs of Image.resize (BICUBIC and BOX, down and up),
                         convert("L") (ITU-R 601-2 luma) and guided-diffusion's center_crop_arr.

Run: /usr/bin/python3 tools/parity/make_images.py   (Debian 12: apt-get install python3-pil, Pillow 9.4)
"""
import os, struct, sys, warnings, zlib
import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

root = os.path.abspath(os.path.join(here, "..", "..", "tests", "Crt.Tests", "data", "images"))
os.makedirs(os.path.join(root, "png"), exist_ok=True)
os.makedirs(os.path.join(root, "jpeg"), exist_ok=True)
rng = np.random.default_rng(0)
warnings.filterwarnings("ignore", message="Palette images with Transparency")  # p8's tRNS: alpha is dropped anyway

# ---- a PNG encoder with every option the decoder must handle ------------------------------------

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """One scanline's samples (1-D, already flattened over channels) as bytes, big-endian, MSB first."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per = 8 // depth
    padded = np.zeros(-(-len(samples) // per) * per, dtype=np.uint8)
    padded[:len(samples)] = samples
    out = np.zeros(len(padded) // per, dtype=np.uint8)
    for k in range(per):
        out |= padded[k::per] << (8 - depth * (k + 1))
    return out.tobytes()


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows, bpp, first_filter):
    """Filters each scanline with type (first_filter + index) % 5, so all five appear."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        f = (first_filter + i) % 5
        enc = bytearray(len(row))
        for x in range(len(row)):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            enc[x] = (row[x] - pred) & 0xFF
        out += bytes([f]) + enc
        prev = row
    return bytes(out)


def encode_png(path, samples, color_type, depth, interlace=False, palette=None, trns=None):
    """samples: [H, W, C] integer array of raw sample values (palette indices for type 3)."""
    h, w, c = samples.shape
    assert c == CHANNELS[color_type]
    bpp = max(1, c * depth // 8)
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for n, (x0, y0, dx, dy) in enumerate(passes):
        sub = samples[y0::dy, x0::dx]
        if sub.size == 0:
            continue  # an empty pass has no bytes at all, not even filter bytes
        rows = [pack_row(r.reshape(-1), depth) for r in sub]
        raw += filter_rows(rows, bpp, first_filter=n)
    z = zlib.compress(raw, 9)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    out += chunk(b"tEXt", b"Comment\x00an ancillary chunk the decoder skips")
    for i in range(0, len(z), 37):  # several IDAT chunks
        out += chunk(b"IDAT", z[i:i + 37])
    out += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def pil_reading(path, gray):
    """What PIL decodes, reduced as crt reduces it (gray [H, W] or RGB [H, W, 3], 8 bits, no alpha).
    PIL opens 16-bit gray+alpha as RGBA with three equal channels; a gray file keeps one of them."""
    im = Image.open(path)
    im.load()
    if im.mode in ("I", "I;16", "I;16B"):
        return (np.array(im).astype(np.int64) >> 8).astype(np.uint8)
    if im.mode in ("1", "L"):
        return np.array(im.convert("L"))
    if im.mode == "LA":
        return np.array(im.getchannel("L"))
    rgb = np.array(im.convert("RGB"))
    if gray:
        assert (rgb[:, :, 0] == rgb[:, :, 1]).all() and (rgb[:, :, 0] == rgb[:, :, 2]).all()
        return rgb[:, :, 0]
    return rgb


def expected_from_samples(samples, color_type, depth, palette):
    """The 8-bit gray or RGB image the encoded samples mean (the PNG spec's scaling, alpha dropped)."""
    if color_type == 3:
        return palette[samples[:, :, 0]].astype(np.uint8)
    if depth == 16:
        s = samples >> 8
    elif depth < 8:
        s = samples * (255 // (2 ** depth - 1))
    else:
        s = samples
    s = s.astype(np.uint8)
    return s[:, :, 0] if color_type in (0, 4) else s[:, :, :3]


png_expected = {}
cases = [  # stem, colour type, depth, interlaced, width, height
    ("g1", 0, 1, False, 13, 7), ("g2", 0, 2, False, 11, 5), ("g4", 0, 4, False, 9, 6),
    ("g8", 0, 8, False, 10, 6), ("g16", 0, 16, False, 7, 5),
    ("rgb8", 2, 8, False, 9, 7), ("rgb16", 2, 16, False, 6, 5),
    ("p1", 3, 1, False, 13, 4), ("p2", 3, 2, False, 10, 5), ("p4", 3, 4, False, 11, 6), ("p8", 3, 8, False, 8, 6),
    ("ga8", 4, 8, False, 7, 6), ("ga16", 4, 16, False, 5, 4),
    ("rgba8", 6, 8, False, 8, 5), ("rgba16", 6, 16, False, 5, 5),
    ("g1i", 0, 1, True, 13, 11), ("g4i", 0, 4, True, 11, 9), ("g16i", 0, 16, True, 9, 10),
    ("rgb8i", 2, 8, True, 17, 13), ("p4i", 3, 4, True, 12, 9), ("rgba16i", 6, 16, True, 10, 9),
    ("ga8i", 4, 8, True, 3, 2),
]
for stem, ct, depth, inter, w, h in cases:
    c = CHANNELS[ct]
    palette = trns = None
    if ct == 3:
        entries = min(2 ** depth, 200)  # the 8-bit palette is shorter than 256 entries
        palette = rng.integers(0, 256, size=(entries, 3))
        samples = rng.integers(0, entries, size=(h, w, 1))
        if stem == "p8":
            trns = list(rng.integers(0, 256, size=entries // 2))
    else:
        samples = rng.integers(0, 2 ** depth, size=(h, w, c))
    path = os.path.join(root, "png", stem + ".png")
    encode_png(path, samples, ct, depth, inter, palette, trns)
    ours = expected_from_samples(samples, ct, depth, palette)
    pil = pil_reading(path, ct in (0, 4))
    assert pil.shape == ours.shape and (pil == ours).all(), f"PIL reads {stem} differently from what was encoded"
    png_expected[stem] = pil

# PIL's own encoder: a smooth image in four modes
yy, xx = np.mgrid[0:21, 0:26]
smooth = np.stack([(xx * 9) % 256, (yy * 12) % 256, ((xx + yy) * 5) % 256], -1).astype(np.uint8)
base = Image.fromarray(smooth, "RGB")
for stem, im in [("pil_rgb", base), ("pil_l", base.convert("L")), ("pil_p", base.quantize(37)),
                 ("pil_rgba", Image.merge("RGBA", (*base.split(), base.convert("L"))))]:
    path = os.path.join(root, "png", stem + ".png")
    im.save(path, optimize=False)
    png_expected[stem] = pil_reading(path, stem == "pil_l")
st.save(os.path.join(root, "png_expected.safetensors"), png_expected)

# ---- JPEG: PIL writes, PIL reads ------------------------------------------------------------------
yy, xx = np.mgrid[0:30, 0:45]
photo = np.stack([128 + 100 * np.sin(xx / 5.0), 128 + 90 * np.cos(yy / 4.0), (xx * yy) % 256], -1)
photo = np.clip(photo + rng.normal(0, 12, photo.shape), 0, 255).astype(np.uint8)
jpeg_expected = {}
exif = Image.Exif()
exif[0x0112] = 6  # orientation "rotate 90": neither PIL (without exif_transpose) nor crt applies it
for stem, im, kw in [("rgb", Image.fromarray(photo, "RGB"), dict(quality=85)),  # 4:2:0 by default
                     ("gray", Image.fromarray(photo, "RGB").convert("L").crop((0, 0, 40, 24)), dict(quality=90)),
                     ("rgb_progressive", Image.fromarray(photo, "RGB"), dict(quality=80, progressive=True, subsampling=0)),
                     ("rgb422_exif", Image.fromarray(photo, "RGB").crop((0, 0, 43, 29)), dict(quality=92, subsampling=1, exif=exif.tobytes())),
                     ("cmyk", Image.fromarray(photo, "RGB").convert("CMYK"), dict(quality=90))]:
    path = os.path.join(root, "jpeg", stem + ".jpg")
    im.save(path, **kw)
    read = Image.open(path)
    jpeg_expected[stem] = np.array(read if read.mode in ("L", "RGB") else read.convert("RGB"))  # CMYK: PIL's convert("RGB")
st.save(os.path.join(root, "jpeg_expected.safetensors"), jpeg_expected)

# ---- resize, convert, center_crop_arr --------------------------------------------------------------


def center_crop_arr(pil_image, image_size):
    """guided-diffusion's image_datasets.center_crop_arr (also LlamaGen's), verbatim."""
    while min(*pil_image.size) >= 2 * image_size:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=Image.BOX)
    scale = image_size / min(*pil_image.size)
    pil_image = pil_image.resize(tuple(round(x * scale) for x in pil_image.size), resample=Image.BICUBIC)
    arr = np.array(pil_image)
    crop_y = (arr.shape[0] - image_size) // 2
    crop_x = (arr.shape[1] - image_size) // 2
    return arr[crop_y: crop_y + image_size, crop_x: crop_x + image_size]


# sources: smooth gradients with hard edges and noise, so bicubic overshoots and gets clipped
yy, xx = np.mgrid[0:37, 0:53]
src = np.stack([xx * 4.8, yy * 6.9, 128 + 120 * np.sign(np.sin(xx / 3.0 + yy / 5.0))], -1)
src_rgb = np.clip(src + rng.normal(0, 20, src.shape), 0, 255).astype(np.uint8)
src_l = np.array(Image.fromarray(src_rgb, "RGB").convert("L"))
yy, xx = np.mgrid[0:97, 0:150]
big = np.stack([xx * 1.7, yy * 2.6, 128 + 127 * np.sign(np.sin(xx / 7.0) * np.cos(yy / 9.0))], -1)
big_rgb = np.clip(big + rng.normal(0, 25, big.shape), 0, 255).astype(np.uint8)
resize = {"src_rgb": src_rgb, "src_l": src_l, "big_rgb": big_rgb, "rgb_to_l": src_l}
for mode, arr in (("rgb", src_rgb), ("l", src_l)):
    im = Image.fromarray(arr)
    for name, size, flt in [("bicubic_down", (16, 12), Image.BICUBIC), ("bicubic_up", (70, 45), Image.BICUBIC),
                            ("bicubic_mixed", (80, 20), Image.BICUBIC), ("box_down", (16, 12), Image.BOX),
                            ("box_half", (26, 18), Image.BOX), ("box_up", (61, 40), Image.BOX)]:
        resize[f"{name}_{mode}"] = np.array(im.resize(size, resample=flt))
big_im = Image.fromarray(big_rgb, "RGB")
resize["adm16_rgb"] = center_crop_arr(big_im, 16)      # two box halvings (150x97 -> 75x48 -> 37x24), then bicubic
resize["adm40_rgb"] = center_crop_arr(big_im, 40)      # one halving
resize["adm64_l"] = center_crop_arr(big_im.convert("L"), 64)  # no halving (97 < 128)
resize["adm200_rgb"] = center_crop_arr(big_im.crop((0, 0, 150, 90)), 100)  # upscaling (90 < 100)
st.save(os.path.join(root, "resize.safetensors"), resize)

# ---- WebP, BMP, GIF: PIL writes, PIL reads --------------------------------------------------------
# Their own generator, so adding them left the files above unchanged.
rng2 = np.random.default_rng(1)


def pil_plain(path):
    """PIL's first frame as crt reduces it: gray modes ("1", "L", "LA") [H, W], the rest convert("RGB")."""
    im = Image.open(path)
    im.load()
    if im.mode in ("1", "L", "LA"):
        return np.array(im.convert("L"))
    return np.array(im.convert("RGB"))


yy, xx = np.mgrid[0:29, 0:43]
scene = np.stack([128 + 100 * np.sin(xx / 4.0), 128 + 90 * np.cos(yy / 3.0), (xx * yy * 3) % 256], -1)
scene = np.clip(scene + rng2.normal(0, 10, scene.shape), 0, 255).astype(np.uint8)
alpha = rng2.integers(1, 256, size=scene.shape[:2], dtype=np.uint8)  # translucent everywhere: premultiplying would show
alpha[::5, ::7] = 255
scene_rgb = Image.fromarray(scene, "RGB")
scene_rgba = Image.merge("RGBA", (*scene_rgb.split(), Image.fromarray(alpha, "L")))
noise = Image.fromarray(rng2.integers(0, 256, size=(13, 9, 3), dtype=np.uint8), "RGB")

other = {
    "webp": [("lossless_rgb", scene_rgb, dict(lossless=True)),
             ("lossless_rgba", scene_rgba, dict(lossless=True, exact=True)),  # exact: keep RGB under low alpha
             ("lossy_rgb", scene_rgb, dict(quality=80)),
             ("lossy_rgba", scene_rgba, dict(quality=80)),
             ("animated", noise, dict(lossless=True, save_all=True, append_images=[noise.transpose(Image.ROTATE_180)]))],
    "bmp": [("rgb24", scene_rgb, {}), ("l8", scene_rgb.convert("L"), {}), ("p8", scene_rgb.quantize(50), {}),
            ("b1", scene_rgb.convert("1"), {}), ("rgba32", scene_rgba, {})],
    "gif": [("p", scene_rgb.quantize(64), {}),  # at least 16 rows: PIL writes it interlaced
            ("l", scene_rgb.convert("L"), {}),
            ("small", noise.quantize(20), {}),  # under 16 rows: not interlaced
            ("transparent", scene_rgb.quantize(32), dict(transparency=3)),
            ("animated", noise.quantize(16), dict(save_all=True, append_images=[noise.transpose(Image.ROTATE_180).quantize(16)]))],
}
for ext, files in other.items():
    os.makedirs(os.path.join(root, ext), exist_ok=True)
    expected = {}
    for stem, im, kw in files:
        path = os.path.join(root, ext, stem + "." + ext)
        im.save(path, **kw)
        expected[stem] = pil_plain(path)
    if ext == "gif":  # where crt reads GIF transparency differently (see GifDecoderTests): the transparent index
        expected["transparent_mask"] = (np.array(Image.open(os.path.join(root, "gif", "transparent.gif"))) == 3).astype(np.uint8)
    st.save(os.path.join(root, ext + "_expected.safetensors"), expected)

total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
print(f"wrote {root}: {total} bytes")
