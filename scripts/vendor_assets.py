"""Vendor the site's third-party browser assets into ``docs/assets/vendor/``.

The site must work with no network at view time (see ``mkdocs.yml``), so the
two JavaScript packages it needs are committed, and this script is how they
got there. Versions and tarball hashes are pinned below; ``npm pack`` fetches
the tarballs from the npm registry (it also verifies them against the
registry's integrity field) and this script checks the pinned SHA-512 again
before copying anything.

What is copied (about 2 MB):

* ``mathjax/``: MathJax 3 (``es5`` build), the TeX-to-CommonHTML component,
  its woff2 fonts, and the TeX extensions that ``autoload`` fetches on demand
  (``\\boldsymbol``, ``\\cancel``, ...). ``all-packages.js`` is left out: it is
  only loaded by an explicit configuration this site does not use.
* ``iframe-worker/shim.js``: the shim Material's ``offline`` plugin needs so
  that search works from ``file://``; without a local copy the plugin adds a
  CDN URL.

Each package's LICENSE sits next to its files. ``MANIFEST.json`` records the
SHA-256 of every vendored file.

Usage::

    python scripts/vendor_assets.py           # fetch with npm and (re)write the files
    python scripts/vendor_assets.py --check   # verify the committed files, no network
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "docs" / "assets" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"

# name -> (version, npm "integrity" of the tarball, [(source in package, destination under VENDOR)])
# A source ending in "/" is a directory copied recursively.
PACKAGES: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        [
            ("LICENSE", "mathjax/LICENSE"),
            ("es5/tex-chtml.js", "mathjax/tex-chtml.js"),
            # tex-chtml.js finds these relative to its own URL ("[mathjax]/...").
            ("es5/output/chtml/fonts/woff-v2/", "mathjax/output/chtml/fonts/woff-v2/"),
            ("es5/input/tex/extensions/", "mathjax/input/tex/extensions/"),
        ],
    ),
    "iframe-worker": (
        "1.0.4",
        "sha512-roeaaI+Lg1LJNfgpCjoRe/+WzEjy9+Z08LoEvu85MCPbBjwm+qXz8Ag5U05lHa6V1CysZyGzE0SOkAtSUA5q7Q==",
        [
            ("LICENSE", "iframe-worker/LICENSE"),
            # The offline plugin only adds its CDN copy when no polyfill URL
            # contains "iframe-worker": keep that word in the path.
            ("shim/index.js", "iframe-worker/shim.js"),
        ],
    ),
}

# Files inside copied directories that are not needed (see module docstring).
SKIP = {"mathjax/input/tex/extensions/all-packages.js"}


def _sri_sha512(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npm_pack(name: str, version: str, integrity: str, workdir: Path) -> Path:
    """Fetch ``name@version`` with ``npm pack``, check its hash, unpack it; return the package dir."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is not on PATH; it is needed to fetch the pinned packages "
                 "(the committed files can still be checked with --check)")
    out = subprocess.run([npm, "pack", f"{name}@{version}", "--json", "--silent"],
                         cwd=workdir, check=True, capture_output=True, text=True)
    tarball = workdir / json.loads(out.stdout)[0]["filename"]
    got = _sri_sha512(tarball)
    if got != integrity:
        sys.exit(f"{name}@{version}: tarball hash {got} does not match the pinned {integrity}")
    dest = workdir / name
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def _copy(src: Path, dst_rel: str, written: list[str]) -> None:
    dst = VENDOR / dst_rel
    if src.is_dir():
        for item in sorted(src.rglob("*")):
            rel = f"{dst_rel}{item.relative_to(src).as_posix()}"
            if item.is_file() and rel not in SKIP:
                _copy(item, rel, written)
        return
    if not src.is_file():
        sys.exit(f"{src} is missing from the package: has its layout changed?")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    written.append(dst_rel)


def vendor() -> None:
    """Fetch every pinned package and rewrite ``docs/assets/vendor/`` from scratch."""
    files: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = {name: _npm_pack(name, version, integrity, Path(tmp))
                    for name, (version, integrity, _) in PACKAGES.items()}
        if VENDOR.exists():
            shutil.rmtree(VENDOR)  # no stale files from an older version
        for name, (_, _, copies) in PACKAGES.items():
            for src, dst in copies:
                _copy(unpacked[name] / src.rstrip("/"), dst, files)
    manifest = {
        "packages": {name: version for name, (version, _, _) in PACKAGES.items()},
        "files": {rel: _sha256(VENDOR / rel) for rel in sorted(files)},
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    size = sum((VENDOR / rel).stat().st_size for rel in files)
    print(f"vendored {len(files)} files ({size / 1e6:.2f} MB) into {VENDOR.relative_to(ROOT)}")


def check() -> list[str]:
    """Problems with the committed vendored files (empty list when all is well).

    Every file in the manifest must exist with its recorded hash, the manifest
    must name the pinned versions, and nothing unlisted may sit beside them.
    """
    if not MANIFEST.is_file():
        return [f"{MANIFEST.relative_to(ROOT)} is missing: run scripts/vendor_assets.py"]
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    problems = []
    pinned = {name: version for name, (version, _, _) in PACKAGES.items()}
    if manifest.get("packages") != pinned:
        problems.append(f"manifest lists {manifest.get('packages')}, the script pins {pinned}")
    listed = manifest.get("files", {})
    for rel, digest in sorted(listed.items()):
        path = VENDOR / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif _sha256(path) != digest:
            problems.append(f"changed: {rel}")
    for dst in (dst for _, _, copies in PACKAGES.values() for _, dst in copies):
        if dst.endswith("/"):
            if not any(rel.startswith(dst) for rel in listed):
                problems.append(f"manifest lists nothing under {dst}")
        elif dst not in listed:
            problems.append(f"manifest does not list {dst}")
    present = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    for rel in sorted(present - set(listed) - {MANIFEST.name}):
        problems.append(f"not in the manifest: {rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="verify the committed files against MANIFEST.json (no network)")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(f"vendor check: {problem}", file=sys.stderr)
        if not problems:
            print(f"vendored assets OK ({VENDOR.relative_to(ROOT)})")
        return 1 if problems else 0
    vendor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
