"""tools.images: every input kind and image mode becomes RGB uint8; every failure is InvalidImageError."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from tests.conftest import GRACE_HOPPER, png_bytes
from tools.errors import FaceAgentError, InvalidImageError
from tools.images import MAX_BYTES, load_image


def test_inputs_of_every_kind_agree(astronaut, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(astronaut))
    results = [
        load_image(astronaut),
        load_image(path),
        load_image(str(path)),
        load_image(path.read_bytes()),
        load_image(io.BytesIO(path.read_bytes())),
        load_image(Image.fromarray(astronaut)),
    ]
    for result in results:
        assert result.dtype == np.uint8 and result.shape == (512, 512, 3)
        assert np.array_equal(result, astronaut)


def test_array_input_is_copied(astronaut):
    result = load_image(astronaut)
    assert result is not astronaut
    result[0, 0] = 0  # the caller's array must not change
    assert not np.shares_memory(result, astronaut)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("P", "PNG"),
        ("L", "PNG"),
        ("1", "PNG"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
    ],
)
def test_every_mode_becomes_rgb(astronaut, mode, fmt):
    data = png_bytes(Image.fromarray(astronaut).convert(mode), fmt)
    result = load_image(data)
    assert result.shape == (512, 512, 3) and result.dtype == np.uint8
    gray = Image.fromarray(astronaut).convert("L")
    # Content survives the conversion: the mean brightness is close to the original's.
    assert abs(float(result.mean()) - float(np.asarray(gray).mean())) < 25


def test_16bit_gray_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    result = load_image(png_bytes(Image.fromarray(ramp)))
    assert result.dtype == np.uint8
    assert result.min() == 0 and result.max() == 255
    assert abs(int(result[32, 32, 0]) - 128) <= 2


def test_16bit_array_is_scaled():
    result = load_image(np.full((20, 20, 3), 65535, np.uint16))
    assert result.max() == 255


def test_rgba_is_flattened_over_white_exactly_as_pillow_composites_it():
    from tools.images import _flatten_alpha

    value = np.arange(256, dtype=np.uint8)
    every = np.zeros((256, 256, 4), np.uint8)  # every colour value under every alpha
    every[..., 0], every[..., 1], every[..., 2] = value, value[::-1], value // 3
    every[..., 3] = value[:, None]
    opaque = every.copy()
    opaque[..., 3] = 255
    for rgba in (every, opaque):
        want = np.asarray(_flatten_alpha(Image.fromarray(rgba, "RGBA")))
        np.testing.assert_array_equal(load_image(png_bytes(rgba)), want)


def test_transparent_pixels_become_white():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    assert load_image(png_bytes(rgba))[0, 0].tolist() == [255, 255, 255]
    assert load_image(rgba)[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied():
    image = np.zeros((40, 80, 3), np.uint8)  # landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    data = png_bytes(Image.fromarray(image), "JPEG", exif=exif.tobytes())
    assert load_image(data).shape == (80, 40, 3)


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (30, 30), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    result = load_image(buffer.getvalue())
    assert result[15, 15].tolist()[0] > 200 and result[15, 15].tolist()[2] < 50


def test_float_and_bool_arrays():
    assert load_image(np.ones((16, 16), np.float32)).max() == 255
    assert load_image(np.full((16, 16, 3), 128.0)).max() == 128
    assert load_image(np.ones((16, 16), bool)).max() == 255


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"", "empty"),
        (b"just some text, not a photo", "text"),
        (b"%PDF-1.7\n%binary", "PDF"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
        (png_bytes(np.zeros((40, 40, 3), np.uint8))[:60], "truncated"),
        (png_bytes(np.zeros((200, 200, 3), np.uint8), "JPEG")[:300], "truncated"),
        (np.full((20, 20), np.nan), "NaN"),
        (np.full((20, 20), np.inf), "NaN or infinite"),
        (np.zeros((20, 20, 2), np.uint8), "shape"),
        (np.zeros((2, 20, 20, 3), np.uint8), "shape"),
        (np.array([["a"]]), "numbers"),
        (np.full((20, 20), -5, np.int32), "[0, 255]"),
        (np.full((20, 20), 300.0), "[0, 1] or [0, 255]"),
        (np.zeros((4, 4, 3), np.uint8), "at least"),
        (12345, "Cannot read"),
    ],
)
def test_bad_inputs_raise_invalid_image_error(source, message):
    with pytest.raises(InvalidImageError) as info:
        load_image(source)
    assert message.lower() in str(info.value).lower()
    assert isinstance(info.value, FaceAgentError)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(InvalidImageError, match="No such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(InvalidImageError, match="not a file"):
        load_image(tmp_path)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_text("hello")
    with pytest.raises(InvalidImageError, match="photo.jpg is text"):
        load_image(path)


def test_decompression_bomb_is_refused_before_decoding():
    # A valid PNG header declaring 100000 x 100000 pixels; decoding it would need 30 GB.
    def chunk(kind: bytes, body: bytes) -> bytes:
        import zlib

        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")
    with pytest.raises(InvalidImageError, match="pixels"):
        load_image(bomb)


def test_oversized_upload_is_refused():
    with pytest.raises(InvalidImageError, match="MB"):
        load_image(b"\xff\xd8" + bytes(MAX_BYTES + 1))


def test_real_jpeg_file():
    result = load_image(GRACE_HOPPER)
    assert result.shape == (600, 512, 3)
