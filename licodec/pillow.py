"""A Pillow plugin for .lic files: `import licodec.pillow`, then Image.open / Image.save.

    >>> import licodec.pillow
    >>> from PIL import Image
    >>> Image.open("photo.lic").save("photo.png")            # decodes on load()
    >>> Image.open("photo.png").save("photo.lic", quality=5)  # model="teacher", effort=2 also work

Opening reads only the header (torch-free, like `licodec info`): size and mode are known at
once, and the model runs when the pixels are first needed.
"""
from __future__ import annotations

from typing import IO

from PIL import Image, ImageFile

from licodec import container

FORMAT = "LIC"


def _accept(prefix: bytes) -> bool:
    return prefix[: len(container.MAGIC)] == container.MAGIC


class LicImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "licodec learned image"

    def _open(self) -> None:
        self._data = self.fp.read()
        header = container.read_header(self._data)[0]  # a clean LicodecError on a bad header
        self._size = (header.width, header.height)
        self._mode = header.colour
        self.info["quality"] = header.quality
        self.info["model_id"] = header.model_id.hex()
        self.tile = []  # decoded by load(), not by Pillow's tile decoders

    def load(self):
        if self._data is not None:
            from licodec import api

            decoded = api.decode(self._data)
            decoded.load()
            self.im = decoded.im
            self.info.update(decoded.info)  # ICC profile and EXIF
            self._data = None
        return Image.Image.load(self)


def _save(image: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from licodec import api

    options = image.encoderinfo
    fp.write(api.encode(image, quality=options.get("quality", 4.0), model=options.get("model", "student"),
                        device=options.get("device", "cpu"), effort=options.get("effort", 0)))


Image.register_open(FORMAT, LicImageFile, _accept)
Image.register_save(FORMAT, _save)
Image.register_extension(FORMAT, ".lic")
Image.register_mime(FORMAT, "image/x-lic")
