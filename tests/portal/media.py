"""Real photo and video files for the upload tests, made on the spot."""

import io
import random
import zlib
from functools import cache

import pillow_heif
from PIL import ExifTags, Image

pillow_heif.register_heif_opener()

GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (51.0, 3.0, 12.5),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (3.0, 43.0, 1.0),
}


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    return exif


def picture(
    size: tuple[int, int] = (600, 400), noise: bool = False, mode: str = "RGB"
) -> Image.Image:
    """A landscape picture: red left half, blue right half (noise makes it incompressible)."""
    if noise:
        rng = random.Random(size[0] * size[1])
        return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(mode)))
    image = Image.new(mode, size, "blue")
    image.paste(Image.new(mode, (size[0] // 2, size[1]), "red"))
    return image


def jpeg_with_gps(
    size: tuple[int, int] = (600, 400), orientation: int = 6, noise: bool = False
) -> bytes:
    """A JPEG as a phone writes it: GPS location, make and model, XMP, a rotation tag."""
    out = io.BytesIO()
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,3.2N"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    picture(size, noise).save(out, "JPEG", quality=95, exif=exif_with_gps(orientation), xmp=xmp)
    return out.getvalue()


def png_with_gps() -> bytes:
    out = io.BytesIO()
    picture(mode="RGBA").save(out, "PNG", exif=exif_with_gps())
    return out.getvalue()


def webp_with_gps() -> bytes:
    out = io.BytesIO()
    picture().save(out, "WEBP", exif=exif_with_gps(), quality=80)
    return out.getvalue()


def heic_with_gps(size: tuple[int, int] = (600, 400)) -> bytes:
    out = io.BytesIO()
    picture(size).save(out, "HEIF", exif=exif_with_gps().tobytes(), quality=70)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data).to_bytes(4, "big")
    return len(data).to_bytes(4, "big") + kind + data + crc


@cache
def png_bomb(width: int = 13_000, height: int = 13_000) -> bytes:
    """A decompression bomb: a valid greyscale PNG of black rows, 169 megapixels in
    0.7 MB that a decoder would unpack to 169 MB and more. Written row by row, so
    making it never holds the pixels either."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    compressor = zlib.compressobj(1)
    row = bytes(width + 1)  # filter type 0, then one byte per pixel
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _movie_header() -> bytes:
    matrix = b"".join(
        v.to_bytes(4, "big") for v in (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    )
    mvhd = (
        bytes(4)  # version, flags
        + bytes(8)  # created, modified
        + (1000).to_bytes(4, "big")  # time scale
        + bytes(4)  # duration
        + (0x10000).to_bytes(4, "big")  # rate 1.0
        + (0x100).to_bytes(2, "big")  # volume 1.0
        + bytes(10)
        + matrix
        + bytes(24)
        + (1).to_bytes(4, "big")  # next track id
    )
    return _box(b"moov", _box(b"mvhd", mvhd))


def mp4(payload_bytes: int = 256) -> bytes:
    """An MP4 file: ftyp (isom), media data and a movie header."""
    ftyp = _box(b"ftyp", b"isom" + (512).to_bytes(4, "big") + b"isomiso2avc1mp41")
    return ftyp + _box(b"free", b"") + _box(b"mdat", bytes(payload_bytes)) + _movie_header()


def mov(payload_bytes: int = 256) -> bytes:
    """A QuickTime movie as an iPhone writes it: ftyp 'qt  ', wide, mdat, moov."""
    ftyp = _box(b"ftyp", b"qt  " + (0).to_bytes(4, "big") + b"qt  ")
    return ftyp + _box(b"wide", b"") + _box(b"mdat", bytes(payload_bytes)) + _movie_header()


def _ebml(element_id: bytes, payload: bytes) -> bytes:
    assert len(payload) < 127
    return element_id + bytes([0x80 | len(payload)]) + payload


def webm(payload_bytes: int = 256) -> bytes:
    """A WebM file: EBML header with DocType webm, then a Segment with its Info."""
    header = b"".join(
        [
            _ebml(b"\x42\x86", b"\x01"),  # EBMLVersion
            _ebml(b"\x42\xf7", b"\x01"),  # EBMLReadVersion
            _ebml(b"\x42\xf2", b"\x04"),  # EBMLMaxIDLength
            _ebml(b"\x42\xf3", b"\x08"),  # EBMLMaxSizeLength
            _ebml(b"\x42\x82", b"webm"),  # DocType
            _ebml(b"\x42\x87", b"\x04"),  # DocTypeVersion
            _ebml(b"\x42\x85", b"\x02"),  # DocTypeReadVersion
        ]
    )
    info = _ebml(b"\x15\x49\xa9\x66", _ebml(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big")))
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + info
    return _ebml(b"\x1a\x45\xdf\xa3", header) + segment + bytes(payload_bytes)


TEXT = b"Dear garage,\nthis is a text file with a photo's name.\n" * 20
