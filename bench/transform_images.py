#!/usr/bin/python3
"""The inputs of bench/transform.sh: COUNT noisy 4000 x 3000 JPEGs, about 4.6 MB each.

    bench/transform_images.py DIR [COUNT=20]

Writes DIR/photo-01.jpg ... and keeps them: a later call with the same DIR and COUNT finds them
and writes nothing (DIR/made-by records the recipe; change RECIPE to remake them).

Each picture is a smooth colour field (a 4 x 3 grid of random colours enlarged bicubically)
under uniform noise of +-23 per channel, saved at quality 90: grainy like a low-light phone
shot, so libjpeg's entropy decoding, which no shrink-on-load skips, costs what a photo's of
that size does. Pure Pillow (Debian's python3-pil, scripts/install-deps.sh --peers), seeded per
picture with random.Random: the same files on every machine with the same libjpeg.
"""

import io
import pathlib
import random
import sys

from PIL import Image, ImageChops

WIDTH, HEIGHT = 4000, 3000
NOISE = 23  # +-NOISE per channel: about 4.6 MB at quality 90
QUALITY = 90
RECIPE = f"{WIDTH}x{HEIGHT} noise={NOISE} quality={QUALITY} seeds=1.. v1"


def photo(seed: int) -> bytes:
    rnd = random.Random(seed)
    field = Image.frombytes("RGB", (4, 3), rnd.randbytes(4 * 3 * 3))
    field = field.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    # A byte 0..255 to 128 +- NOISE; ImageChops.add(a, b, 1, -128) then adds it around 0.
    spread = [round(128 + (v - 127.5) * NOISE / 127.5) for v in range(256)]
    bands = []
    for band in field.split():
        noise = Image.frombytes("L", (WIDTH, HEIGHT), rnd.randbytes(WIDTH * HEIGHT))
        bands.append(ImageChops.add(band, noise.point(spread), 1, -128))
    out = io.BytesIO()
    Image.merge("RGB", bands).save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    directory = pathlib.Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 20
    stamp = directory / "made-by"
    names = [directory / f"photo-{i:02d}.jpg" for i in range(1, count + 1)]
    if stamp.exists() and stamp.read_text() == RECIPE and all(p.exists() for p in names):
        return 0
    directory.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for seed, path in enumerate(names, start=1):
        path.write_bytes(photo(seed))
    stamp.write_text(RECIPE)
    total = sum(p.stat().st_size for p in names)
    print(f"transform_images: {count} pictures, {total / count / 1e6:.2f} MB each on average",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
