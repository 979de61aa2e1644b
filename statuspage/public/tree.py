"""The public site as a static tree: what the publish targets receive.

Every document of the published snapshot, at a file path that is its URL path (`/` →
`index.html`, `/history` → `history/index.html`, `/incidents/<id>` →
`incidents/<id>/index.html`, `/api/v2/summary.json` → `api/v2/summary.json`, …), with the
very bytes the app serves, plus the static files the pages use (stylesheet, icons, the
live-refresh script) at the URLs the pages name. Any static host serving the tree from the
site's root answers the app's public URLs (a directory's `index.html` for `/history`).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage

from statuspage.public.templatetags.public_static import public_static

STATIC_PREFIX = "statuspage/"  # the static files of the public pages (the app's own namespace)
HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"  # a hashed name never changes
STATIC_CACHE_CONTROL = "public, max-age=300"  # a plain name may change at the next deploy
COMPRESSIBLE = ("text/", "application/json", "application/atom", "application/rss", "image/svg")
GZIP_MIN_SIZE = 512


@dataclass(frozen=True)
class SiteFile:
    """One file of the tree."""

    path: str  # relative, no leading slash: "index.html", "api/v2/summary.json"
    body: bytes
    content_type: str
    cache_control: str
    last_modified: int  # epoch seconds: the document's Last-Modified, as the app sends it
    gzipped: bytes | None = None  # the pre-compressed body, for hosts that serve `.gz` files

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def file_path(url_path: str) -> str:
    """`/` → `index.html`; `/history` → `history/index.html`; `/history.atom` → itself."""
    path = url_path.strip("/")
    if not path:
        return "index.html"
    if "." in path.rsplit("/", 1)[-1]:
        return path
    return f"{path}/index.html"


def url_path(path: str) -> str:
    """The inverse of `file_path`: the URL path a file of the tree answers."""
    if path == "index.html":
        return "/"
    return "/" + path.removesuffix("/index.html")


def site_files(
    manifest: dict, read_blob: Callable[[str], bytes], *, cache_control: str
) -> list[SiteFile]:
    """The whole tree for `manifest`: its documents, then the static files. `read_blob(name)`
    reads a body of the snapshot (`<sha256>`, or `<sha256>.gz` when the entry has one)."""
    files = []
    for path, entry in sorted(manifest["documents"].items()):
        files.append(
            SiteFile(
                path=file_path(path),
                body=read_blob(entry["sha256"]),
                content_type=entry["content_type"],
                cache_control=cache_control,
                last_modified=int(entry["last_modified"]),
                gzipped=read_blob(f"{entry['sha256']}.gz") if entry.get("gzip") else None,
            )
        )
    return files + static_files()


def static_files() -> list[SiteFile]:
    """The public pages' static files, at the URL the pages use (hashed once `collectstatic`
    ran, see `public_static`). Nothing when STATIC_URL points to another host."""
    if not settings.STATIC_URL.startswith("/"):
        return []
    files = []
    for name in _static_names():
        url = public_static(name)
        if not url.startswith(settings.STATIC_URL):
            continue
        stored = url.removeprefix(settings.STATIC_URL)
        body, mtime = _static_body(name, stored)
        if body is None:
            continue
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/javascript":
            content_type += "; charset=utf-8"
        files.append(
            SiteFile(
                path=url.lstrip("/"),
                body=body,
                content_type=content_type,
                cache_control=HASHED_CACHE_CONTROL if stored != name else STATIC_CACHE_CONTROL,
                last_modified=mtime,
                gzipped=_gzip(body, content_type),
            )
        )
    return files


def _static_names() -> list[str]:
    """Every static file under the public namespace, by its unhashed name."""
    names = set()
    for finder in finders.get_finders():
        for name, _storage in finder.list([]):
            name = name.replace("\\", "/")
            if name.startswith(STATIC_PREFIX):
                names.add(name)
    return sorted(names)


def _static_body(name: str, stored: str) -> tuple[bytes | None, int]:
    """The bytes the app serves for a static file: the collected (hashed, rewritten) copy in
    STATIC_ROOT when there is one, else the source file."""
    candidates = []
    try:
        candidates.append(Path(staticfiles_storage.path(stored)))
    except NotImplementedError:
        pass
    source = finders.find(name)
    if source:
        candidates.append(Path(source))
    for candidate in candidates:
        try:
            return candidate.read_bytes(), int(candidate.stat().st_mtime)
        except OSError:
            continue
    return None, 0


def _gzip(body: bytes, content_type: str) -> bytes | None:
    if len(body) < GZIP_MIN_SIZE or not content_type.startswith(COMPRESSIBLE):
        return None
    return gzip.compress(body, 9, mtime=0)
