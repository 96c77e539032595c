"""Photos checked by content and stripped for the public: a phone's GPS photo, broken and hostile files.

Every picture is made here with Pillow (no binary fixtures): a phone photo with GPS and a sideways
orientation, PNG and WebP, files that only pretend to be photos, truncated ones and decompression bombs.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import time
import warnings
import zlib

import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps
from PIL.PngImagePlugin import PngInfo

from cogov.errors import DomainError
from cogov.intake.photos import PhotoError, PhotoLimits, header_size, process_photo, sniff

RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 20), (20, 20, 220), (255, 255, 255)
MAKE = "CogovTestPhone"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>CogovXMPSecret</rdf:RDF></x:xmpmeta>'
# 青岛, 市南区: 36°3'30.5" N, 120°20'15.25" E
GPS_LAT, GPS_LON = (36.0, 3.0, 30.5), (120.0, 20.0, 15.25)


def quadrants(width: int = 64, height: int = 32, mode: str = "RGB") -> Image.Image:
    """Four coloured quadrants (red, green / blue, white) so that any rotation or mirror shows."""
    img = Image.new("RGB", (width, height), WHITE)
    w, h = width // 2, height // 2
    img.paste(RED, (0, 0, w, h))
    img.paste(GREEN, (w, 0, width, h))
    img.paste(BLUE, (0, h, w, height))
    return img.convert(mode) if mode != "RGB" else img


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def phone_exif(orientation: int = 6) -> Image.Exif:
    """EXIF as a phone writes it: maker, orientation and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = MAKE
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", GPS_LAT, "E", GPS_LON
    return exif


def phone_jpeg(orientation: int = 6, *, width: int = 64, height: int = 32, icc: bytes | None = None) -> bytes:
    """A phone photo: EXIF with GPS and Orientation, XMP, and (optionally) an ICC profile."""
    params = {"exif": phone_exif(orientation).tobytes(), "xmp": XMP, "quality": 95}
    if icc is not None:
        params["icc_profile"] = icc
    return encode(quadrants(width, height), "JPEG", **params)


def jpeg_segments(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's header segments, from SOI up to the start of scan."""
    assert data[:2] == b"\xff\xd8"
    markers, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        i += 2 + length
    return markers


def colour_at(img: Image.Image, fx: float, fy: float) -> tuple[int, int, int]:
    return img.convert("RGB").getpixel((int(img.width * fx), int(img.height * fy)))


def close(a, b, tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


@functools.cache
def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width × height black pixels: a few KB on the wire, width × height in memory."""
    z = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) claims width × height."""
    data = bytearray(encode(quadrants(16, 16), "JPEG", quality=80))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def refused(data: bytes, **limits) -> PhotoError:
    with pytest.raises(PhotoError) as e:
        process_photo(data, limits=PhotoLimits(**limits))
    assert isinstance(e.value, DomainError)
    return e.value


# --- a phone photo with GPS ---------------------------------------------------------------------------


def test_citizen_photo_with_gps_is_published_without_any_metadata_and_upright():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = phone_jpeg(orientation=6, icc=srgb)
    # the fixture really carries what a phone leaks
    src = Image.open(io.BytesIO(original))
    assert src.getexif().get_ifd(0x8825)[2] == GPS_LAT and src.getexif()[0x0112] == 6
    assert "xmp" in src.info and "icc_profile" in src.info

    photo = process_photo(original)

    assert photo.content_type == "image/jpeg" and photo.extension == "jpg"
    assert photo.original == original  # kept byte for byte for staff
    assert photo.sha256 == hashlib.sha256(original).hexdigest()
    assert photo.size == len(original)
    # the original is 64 × 32 stored sideways (Orientation 6): people see it 32 wide, 64 tall
    assert (photo.width, photo.height) == (32, 64)

    pub = opened(photo.public)
    assert pub.format == "JPEG" and pub.size == (32, 64) == (photo.public_width, photo.public_height)
    assert dict(pub.getexif()) == {}
    assert pub.getexif().get_ifd(0x8825) == {}
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(pub.info)
    # raw bytes: only JFIF (APP0) before the tables; no APP1 (EXIF/XMP), APP2 (ICC) or other APPn/COM
    markers = jpeg_segments(photo.public)
    assert not [m for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE], [hex(m) for m in markers]
    for secret in (b"Exif\x00", MAKE.encode(), b"CogovXMPSecret", b"ICC_PROFILE", b"http://ns.adobe.com/xap"):
        assert secret not in photo.public and secret not in photo.thumbnail

    # upright: what a viewer honouring the orientation would show
    upright = ImageOps.exif_transpose(opened(original))
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close(colour_at(pub, fx, fy), colour_at(upright, fx, fy)), (fx, fy)

    thumb = opened(photo.thumbnail)
    assert thumb.format == "JPEG" and dict(thumb.getexif()) == {} and thumb.size == (32, 64)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_as_a_viewer_shows_it(orientation):
    original = phone_jpeg(orientation, width=80, height=40)
    photo = process_photo(original)
    pub = opened(photo.public)
    upright = ImageOps.exif_transpose(opened(original))
    assert pub.size == upright.size == (photo.width, photo.height)
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close(colour_at(pub, fx, fy), colour_at(upright, fx, fy)), (orientation, fx, fy)


def test_big_photo_is_downscaled_for_the_public_and_the_thumbnail():
    photo = process_photo(encode(quadrants(4000, 1000), "JPEG", quality=70))
    assert (photo.width, photo.height) == (4000, 1000)
    assert (photo.public_width, photo.public_height) == (1600, 400) == opened(photo.public).size
    assert opened(photo.thumbnail).size == (320, 80)


def test_sizes_come_from_settings(settings):
    settings.COGOV_PHOTO_PUBLIC_MAX_SIDE = 100
    settings.COGOV_PHOTO_THUMB_SIDE = 10
    photo = process_photo(encode(quadrants(400, 200), "PNG"))
    assert opened(photo.public).size == (100, 50)
    assert opened(photo.thumbnail).size == (10, 5)


def test_limits_default_and_come_from_settings(settings):
    assert PhotoLimits.from_settings() == PhotoLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000,
                                                      max_count=6, public_max_side=1600, thumb_side=320)
    settings.COGOV_PHOTO_MAX_COUNT = 3
    settings.COGOV_PHOTO_MAX_BYTES = 1234
    limits = PhotoLimits.from_settings()
    assert (limits.max_count, limits.max_bytes) == (3, 1234)


# --- formats, by content -------------------------------------------------------------------------------


def test_png_with_transparency_is_accepted_and_flattened_on_white():
    img = quadrants(40, 40, "RGBA")
    img.paste((0, 0, 0, 0), (20, 20, 40, 40))  # bottom-right transparent
    photo = process_photo(encode(img, "PNG"))
    assert photo.content_type == "image/png" and photo.extension == "png"
    pub = opened(photo.public)
    assert pub.format == "JPEG" and pub.mode == "RGB"
    assert close(colour_at(pub, 0.75, 0.75), WHITE, 10)
    assert close(colour_at(pub, 0.25, 0.25), RED)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "1", "CMYK"])
def test_other_pixel_modes_become_an_ordinary_jpeg(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    img = quadrants(32, 32).convert(mode) if mode != "CMYK" else quadrants(32, 32).convert("CMYK")
    photo = process_photo(encode(img, fmt))
    assert opened(photo.public).mode in ("RGB", "L")


def test_palette_png_with_a_transparent_index_is_flattened_on_white():
    img = Image.new("P", (10, 10), 1)
    img.putpalette([0, 0, 0] + list(BLUE) + [0] * (256 * 3 - 6))
    img.paste(0, (0, 0, 5, 10))
    photo = process_photo(encode(img, "PNG", transparency=0))
    pub = opened(photo.public)
    assert close(colour_at(pub, 0.1, 0.5), WHITE, 10) and close(colour_at(pub, 0.9, 0.5), BLUE)


def test_sixteen_bit_grey_png_keeps_its_grey():
    img = Image.new("I;16", (8, 8), 32768)
    photo = process_photo(encode(img, "PNG"))
    value = opened(photo.public).convert("L").getpixel((4, 4))
    assert 110 <= value <= 145  # half grey, not clipped to white


def test_webp_is_accepted():
    photo = process_photo(encode(quadrants(), "WEBP", quality=90))
    assert photo.content_type == "image/webp" and photo.extension == "webp"
    assert opened(photo.public).format == "JPEG" and (photo.width, photo.height) == (64, 32)


def test_webp_with_alpha_and_exif_is_accepted_and_stripped():
    img = quadrants(32, 32, "RGBA")
    data = encode(img, "WEBP", lossless=True, exif=phone_exif(1).tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    photo = process_photo(data)
    assert photo.content_type == "image/webp"
    assert dict(opened(photo.public).getexif()) == {} and MAKE.encode() not in photo.public


def test_png_with_exif_text_and_gps_is_stripped():
    info_png = PngInfo()
    info_png.add_text("Comment", "CogovPngSecret")
    data = encode(quadrants(), "PNG", exif=phone_exif(6).tobytes(), pnginfo=info_png)
    photo = process_photo(data)
    assert (photo.width, photo.height) == (32, 64)  # PNG eXIf orientation honoured as well
    assert b"CogovPngSecret" not in photo.public and MAKE.encode() not in photo.public
    assert dict(opened(photo.public).getexif()) == {}


def test_a_png_named_jpg_is_a_png_the_name_and_declared_type_do_not_count():
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("IMG_0001.jpg", encode(quadrants(), "PNG"), content_type="image/jpeg")
    photo = process_photo(upload.read())
    assert photo.content_type == "image/png" and photo.extension == "png"


def test_a_multi_picture_jpeg_from_a_phone_is_a_jpeg():
    data = encode(quadrants(), "MPO", save_all=True, append_images=[quadrants(64, 32, "RGB").rotate(180)])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    photo = process_photo(data)
    assert photo.content_type == "image/jpeg" and close(colour_at(opened(photo.public), 0.25, 0.25), RED)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_image_keeps_its_first_frame(fmt):
    frames = [Image.new("RGB", (20, 20), RED), Image.new("RGB", (20, 20), BLUE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    photo = process_photo(data)
    assert close(colour_at(opened(photo.public), 0.5, 0.5), RED)


def _gif():
    return encode(quadrants(), "GIF")


def _bmp():
    return encode(quadrants(), "BMP")


def _tiff():
    return encode(quadrants(), "TIFF")


def _ico():
    return encode(quadrants(32, 32), "ICO")


def _pdf():
    return encode(quadrants(), "PDF")


NOT_PHOTOS = {
    "text": lambda: "投诉：路灯坏了".encode(),
    "empty": lambda: b"",
    "pdf": _pdf,
    "gif": _gif,
    "bmp": _bmp,
    "tiff": _tiff,
    "ico": _ico,
    "svg": lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "heic": lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
    "html": lambda: b"<html><script>alert(1)</script></html>",
    "riff_wave": lambda: b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 32,
}


@pytest.mark.parametrize("name", sorted(NOT_PHOTOS))
def test_anything_but_jpeg_png_webp_is_refused_with_415(name):
    e = refused(NOT_PHOTOS[name]())
    assert (e.code, e.status) == ("photo_unsupported", 415)
    assert e.as_dict()["code"] == "photo_unsupported"


def test_sniff_reads_only_the_first_bytes():
    assert sniff(encode(quadrants(), "PNG"))[2] == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0")[2] == "image/jpeg"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ")[2] == "image/webp"
    assert sniff(b"GIF89a") is None


# --- broken and hostile files ----------------------------------------------------------------------------


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_in_idat(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 4 + 100
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


BROKEN = {
    "jpeg_cut_in_half": lambda: _half(phone_jpeg(width=200, height=100)),
    "jpeg_missing_its_end": lambda: phone_jpeg(width=200, height=100)[:-20],
    "png_cut_in_half": lambda: _half(encode(quadrants(200, 100).effect_spread(3), "PNG")),
    "png_missing_iend": lambda: encode(quadrants(200, 100), "PNG")[:-12],
    "png_damaged_idat": lambda: _flip_in_idat(encode(quadrants(200, 100).effect_spread(3), "PNG")),
    "webp_cut_in_half": lambda: _half(encode(quadrants(200, 100).effect_spread(3), "WEBP")),
    "jpeg_magic_then_garbage": lambda: b"\xff\xd8\xff\xe0" + b"garbage" * 20,
    "png_signature_only": lambda: b"\x89PNG\r\n\x1a\n",
    "webp_header_only": lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 \x00\x00\x00\x00",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_truncated_or_undecodable_photo_is_refused_as_corrupt(name):
    e = refused(BROKEN[name]())
    assert (e.code, e.status) == ("photo_corrupt", 400)


def test_truncated_photo_is_refused_even_if_something_allowed_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert refused(_half(phone_jpeg(width=200, height=100))).code == "photo_corrupt"


MANGLED_EXIF = [b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", b"Exif\x00\x00garbage-garbage"]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("exif", MANGLED_EXIF)
def test_mangled_exif_does_not_refuse_a_good_photo(exif):
    photo = process_photo(encode(quadrants(), "JPEG", exif=exif))
    assert (photo.width, photo.height) == (64, 32) and b"garbage" not in photo.public


@pytest.mark.parametrize("exif", MANGLED_EXIF)
def test_where_warnings_are_errors_a_pillow_warning_is_a_4xx_not_a_crash(exif):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            process_photo(encode(quadrants(), "JPEG", exif=exif))
        except PhotoError as e:
            assert e.status == 400


def test_unreadable_orientation_means_as_stored(monkeypatch):
    def broken(self):
        raise SyntaxError("not a TIFF file")

    monkeypatch.setattr(Image.Image, "getexif", broken)
    photo = process_photo(phone_jpeg(orientation=6))
    assert (photo.width, photo.height) == (64, 32)


def test_a_broken_colour_profile_does_not_refuse_a_good_photo():
    photo = process_photo(phone_jpeg(1, icc=b"not an icc profile at all" * 10))
    pub = opened(photo.public)
    assert "icc_profile" not in pub.info and close(colour_at(pub, 0.25, 0.25), RED)


def test_decompression_bomb_png_is_refused_from_its_header_fast(monkeypatch):
    data = png_bomb(20000, 20000)  # 400 megapixels in a few KB
    assert len(data) < 200_000
    monkeypatch.setattr(Image, "open", never_opened)
    started = time.perf_counter()
    e = refused(data)
    assert time.perf_counter() - started < 1.0
    assert (e.code, e.status) == ("photo_bomb", 400)


@pytest.mark.parametrize("size", [(8000, 6000), (10000, 10000)])
def test_png_over_the_pixel_limit_is_a_bomb_whether_or_not_pillow_would_warn(size):
    # 48 MP: over our 40 MP, under Pillow's warning; 100 MP: Pillow warns (and we still refuse)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        e = refused(png_bomb(*size))
    assert time.perf_counter() - started < 1.0
    assert e.code == "photo_bomb" and (e.detail["width"], e.detail["height"]) == size


def test_pillow_bomb_warning_raised_as_an_error_is_a_bomb_too():
    # a JPEG's size is read by Pillow's header parser, which warns over 89 MP (here: as an exception)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert refused(jpeg_claiming(10000, 10000), max_pixels=10**9).code == "photo_bomb"


@pytest.mark.parametrize("size", [(8000, 6000), (30000, 30000)])
def test_jpeg_claiming_too_many_pixels_is_a_bomb(size):
    started = time.perf_counter()
    e = refused(jpeg_claiming(*size))
    assert time.perf_counter() - started < 1.0
    assert (e.code, e.status) == ("photo_bomb", 400)


def webp_claiming(width: int, height: int) -> bytes:
    """A real two-frame WebP of 16 × 16 frames whose VP8X canvas claims width × height (frames fit inside)."""
    frames = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)]
    data = bytearray(encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50))
    assert data[12:16] == b"VP8X"
    data[24:30] = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return bytes(data)


def never_opened(*args, **kwargs):
    raise AssertionError("Image.open must not be reached for a bomb its header already betrays")


@pytest.mark.parametrize("size", [(8000, 6000), (16000, 16000)])
def test_webp_canvas_too_big_is_a_bomb_before_libwebp_allocates_it(size, monkeypatch):
    data = webp_claiming(*size)
    assert header_size(data) == size
    monkeypatch.setattr(Image, "open", never_opened)
    started = time.perf_counter()
    e = refused(data)
    assert time.perf_counter() - started < 1.0
    assert (e.code, e.detail["width"], e.detail["height"]) == ("photo_bomb", *size)


def test_a_webp_canvas_within_the_limit_is_a_photo():
    photo = process_photo(webp_claiming(400, 300))  # frames smaller than the canvas: legal in WebP
    assert (photo.width, photo.height) == (400, 300)


@pytest.mark.parametrize("fmt, params", [("PNG", {}), ("WEBP", {"quality": 80}), ("WEBP", {"lossless": True}),
                                         ("WEBP", {"exif": b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"})])
def test_header_size_reads_png_and_every_webp_flavour(fmt, params):
    data = encode(quadrants(70, 30), fmt, **params)
    assert header_size(data) == (70, 30)
    assert header_size(phone_jpeg()) is None  # JPEG: Pillow reads the frame header, which allocates nothing


def test_pixel_limit_comes_from_settings(settings):
    settings.COGOV_PHOTO_MAX_PIXELS = 1000
    with pytest.raises(PhotoError) as e:
        process_photo(encode(quadrants(64, 32), "PNG"))  # 2048 pixels
    assert e.value.code == "photo_bomb" and e.value.detail["max_pixels"] == 1000


def test_photo_over_the_byte_limit_is_refused_with_413_before_decoding():
    data = phone_jpeg() + b"\x00" * (10 * 1024 * 1024)
    e = refused(data)
    assert (e.code, e.status) == ("photo_too_large", 413)
    assert e.detail["size"] == len(data)


def test_byte_limit_comes_from_settings(settings):
    settings.COGOV_PHOTO_MAX_BYTES = 100
    with pytest.raises(PhotoError) as e:
        process_photo(phone_jpeg())
    assert e.value.status == 413


def test_error_codes_carry_their_status():
    assert PhotoError("photo_too_many", "x").status == 400
    assert PhotoError("photo_not_found", "x").status == 404
