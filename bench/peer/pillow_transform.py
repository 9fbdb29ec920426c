#!/usr/bin/python3
"""The Pillow peer of `mando transform` (bench/transform.sh): the same job written the way a
Python bot would, with Debian 12's Pillow (python3-pil).

    bench/peer/pillow_transform.py [--size 512] [--draft] [--downloads 4] [--decoders 2] URL...

Downloads run in a pool of --downloads threads (urllib); each picture, as soon as it has
arrived, goes to a pool of --decoders threads that decode it, ImageOps.fit() it to a
size x size square (a centre crop: Pillow has no attention crop) and encode it as JPEG quality
85, like mando. Then a contact sheet of 256 px cells, ceil(sqrt(n)) columns, numbered with
Pillow's default font, JPEG quality 85. Threads, not processes, for the decoders: Pillow
releases the GIL while it decodes, resamples and encodes, so two threads keep both cores busy
without copying each download into another process. --draft asks libjpeg to decode at the
smallest 1/2, 1/4 or 1/8 scale that still covers the square (Image.draft), as mando does.

Prints one JSON line like `mando transform --stats`: wall_seconds from the first request to the
encoded sheet, peak_rss_bytes (this process's VmHWM), inputs, ok.
"""

import argparse
import concurrent.futures
import io
import json
import math
import sys
import time
import urllib.request

from PIL import Image, ImageDraw, ImageOps

TILE = 256
GAP = 8
QUALITY = 85


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read()


def square(data: bytes, size: int, draft: bool) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    if draft:
        image.draft("RGB", (size, size))
    image = ImageOps.exif_transpose(image).convert("RGB")
    return ImageOps.fit(image, (size, size))


def encoded(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


def transform(data: bytes, size: int, draft: bool) -> tuple[bytes, Image.Image]:
    image = square(data, size, draft)
    return encoded(image), image.resize((TILE, TILE), Image.Resampling.BICUBIC)


def contact_sheet(tiles: list) -> bytes:
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (GAP + columns * (TILE + GAP), GAP + rows * (TILE + GAP)), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for i, tile in enumerate(tiles):
        x, y = GAP + (i % columns) * (TILE + GAP), GAP + (i // columns) * (TILE + GAP)
        if tile is None:
            draw.rectangle((x, y, x + TILE - 1, y + TILE - 1), fill=(128, 128, 128))
        else:
            sheet.paste(tile, (x, y))
        draw.text((x + 4, y + 4), str(i + 1), fill=(255, 255, 255))
    return encoded(sheet)


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--draft", action="store_true")
    parser.add_argument("--downloads", type=int, default=4)
    parser.add_argument("--decoders", type=int, default=2)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()

    started = time.monotonic()
    tiles = [None] * len(args.urls)
    outputs = [None] * len(args.urls)
    with concurrent.futures.ThreadPoolExecutor(args.downloads) as downloads, \
            concurrent.futures.ThreadPoolExecutor(args.decoders) as decoders:
        fetches = {downloads.submit(download, url): i for i, url in enumerate(args.urls)}
        work = {}
        for fetch in concurrent.futures.as_completed(fetches):
            i = fetches[fetch]
            try:
                work[decoders.submit(transform, fetch.result(), args.size, args.draft)] = i
            except Exception as error:  # noqa: BLE001 - a failed input is a line, as in mando
                print(f"image {i + 1}: {error}", file=sys.stderr)
        for job in concurrent.futures.as_completed(work):
            i = work[job]
            try:
                outputs[i], tiles[i] = job.result()
            except Exception as error:  # noqa: BLE001
                print(f"image {i + 1}: {error}", file=sys.stderr)
    sheet = contact_sheet(tiles)
    wall = time.monotonic() - started
    made = sum(out is not None for out in outputs)
    print(json.dumps({"wall_seconds": round(wall, 3), "peak_rss_bytes": peak_rss_bytes(),
                      "inputs": len(args.urls), "ok": made, "sheet_bytes": len(sheet)}))
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
