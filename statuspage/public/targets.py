"""Publish targets: where every publish also writes the public site as a static tree
(`HELIOGRAPH_PUBLISH_TARGETS`, comma-separated), so a static host or a CDN can serve the page
at static-file speed, and keep serving it when the app is gone.

- `file:///absolute/dir` (`DirectoryTarget`): the path is a symbolic link to the newest
  complete tree, a hidden sibling directory (`.dir.tree-…`). A publish builds a new tree
  beside it (unchanged files hard-linked from the current one), then swaps the link with one
  `rename`: a reader sees the old site or the new one, never a mix; the older trees are then
  removed. Each file keeps the document's Last-Modified as its mtime, and gets a `.gz`
  sibling (nginx `gzip_static`).
- `s3://bucket/prefix` (`S3Target`): any S3-compatible store through boto3, configured by the
  standard AWS variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
  `AWS_DEFAULT_REGION`). Only objects whose bytes changed are uploaded (compared with the
  listed ETags, the MD5 of a single-part upload), each with its `Content-Type` and
  `Cache-Control`; objects under the prefix that are no longer in the tree are deleted, after
  the uploads. A page is also stored under its pretty key (`history`, `incidents/<id>`), so
  hosts without index documents answer the app's URLs.

A directory belongs to the host writing it: every web node writes its own (after its own
publish, and after copying another node's, see statuspage.public.replication). A bucket is
shared: the publishing host writes it, from a Celery task when the publish follows a web
request, so a slow or unreachable bucket never holds a request. Each target is written on its
own: one that fails does not stop the others; its failure is recorded (`PublishTarget`),
shown on the console dashboard, and tried again by beat (`publish_targets_retry`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.db import Error as DbError

from statuspage.public import services
from statuspage.public.tree import SiteFile, url_path

log = logging.getLogger(__name__)

HOST = socket.gethostname()
TREE_INDEX = ".heliograph-tree.json"  # in each tree: path → SHA-256, to link unchanged files
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
# Uploaded last, so a reader never gets a page or document whose links are missing yet.
LAST = ("index.html", "api/v2/summary.json", "api/v2/status.json", "snapshot.json")


class TargetError(Exception):
    """A target that cannot be written as configured."""


class DirectoryTarget:
    """`file:///absolute/dir`: see the module docstring."""

    shared = False

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = Path(unquote(urlparse(url).path))

    def _tree_name(self) -> str:
        return f".{self.path.name}.tree-{time.time_ns()}"

    def current(self) -> Path | None:
        """The tree the link points to now, if any."""
        if self.path.is_symlink():
            return self.path.parent / os.readlink(self.path)
        if self.path.exists():
            if self.path.is_dir() and not any(self.path.iterdir()):
                self.path.rmdir()  # an empty directory made for us: becomes the link
                return None
            raise TargetError(
                f"{self.path} exists and is not a Heliograph site (a symbolic link to its "
                "newest tree): remove it, or publish to another path"
            )
        return None

    def write(self, files: list[SiteFile]) -> None:
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        current = self.current()
        try:
            before = json.loads((current / TREE_INDEX).read_bytes()) if current else {}
        except (OSError, ValueError):
            before = {}
        new = parent / self._tree_name()
        new.mkdir()
        try:
            index = {}
            for file in files:
                digest = file.sha256
                index[file.path] = digest
                target = new / file.path
                target.parent.mkdir(parents=True, exist_ok=True)
                if current and before.get(file.path) == digest and self._link(current, new, file):
                    continue
                self._write(target, file, previous=current / file.path if current else None)
            (new / TREE_INDEX).write_text(json.dumps(index))
            link = parent / f".{self.path.name}.link-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            os.symlink(new.name, link)  # relative: the same in every container mounting it
            os.replace(link, self.path)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        for old in parent.glob(f".{self.path.name}.tree-*"):
            if old not in (new, current) and old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def _link(current: Path, new: Path, file: SiteFile) -> bool:
        """Hard-link an unchanged file (and its .gz) from the current tree."""
        try:
            os.link(current / file.path, new / file.path)
            if file.gzipped is not None:
                os.link(current / f"{file.path}.gz", new / f"{file.path}.gz")
        except OSError:
            for leftover in (new / file.path, new / f"{file.path}.gz"):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            return False
        return True

    @staticmethod
    def _write(target: Path, file: SiteFile, *, previous: Path | None) -> None:
        """Write a changed file with the document's Last-Modified as its mtime. nginx derives
        its ETag from mtime (seconds) and size: when that would repeat the previous version's,
        the mtime moves a second on, so a conditional request still sees the change."""
        mtime = file.last_modified
        if previous is not None:
            with contextlib.suppress(OSError):
                st = previous.stat()
                if st.st_size == len(file.body) and int(st.st_mtime) >= mtime:
                    mtime = int(st.st_mtime) + 1
        target.write_bytes(file.body)
        os.utime(target, (mtime, mtime))
        if file.gzipped is not None:
            compressed = target.with_name(f"{target.name}.gz")
            compressed.write_bytes(file.gzipped)
            os.utime(compressed, (mtime, mtime))


class S3Target:
    """`s3://bucket/prefix`: see the module docstring."""

    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self.bucket = parsed.netloc
        prefix = unquote(parsed.path).strip("/")
        self.prefix = f"{prefix}/" if prefix else ""

    def client(self):
        # Imported here, not at the top: boto3 takes ~0.3 s to import, and only processes
        # that write a bucket need it (a third-party import; the rule is about our own).
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            config=Config(
                connect_timeout=3,
                read_timeout=15,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def keys(self, files: list[SiteFile]) -> dict[str, SiteFile]:
        """Every object key of the tree, in upload order: static files first, the documents
        everything links to last; pages also under their pretty key."""
        ordered = sorted(
            files, key=lambda f: (not f.path.startswith("static/"), f.path in LAST, f.path)
        )
        keys: dict[str, SiteFile] = {}
        for file in ordered:
            keys[self.prefix + file.path] = file
            if file.path.endswith("/index.html"):
                keys[self.prefix + url_path(file.path).lstrip("/")] = file
        return keys

    def write(self, files: list[SiteFile]) -> None:
        client = self.client()
        existing: dict[str, str] = {}
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for item in page.get("Contents", []):
                existing[item["Key"]] = item["ETag"].strip('"')
        wanted = self.keys(files)
        for key, file in wanted.items():
            if existing.get(key) == hashlib.md5(file.body, usedforsecurity=False).hexdigest():
                continue
            client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=file.body,
                ContentType=file.content_type,
                CacheControl=file.cache_control,
            )
        gone = sorted(key for key in existing if key not in wanted)
        for start in range(0, len(gone), S3_DELETE_BATCH):
            batch = gone[start : start + S3_DELETE_BATCH]
            result = client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if result.get("Errors"):
                error = result["Errors"][0]
                raise TargetError(f"could not delete {error['Key']}: {error.get('Message')}")


Target = DirectoryTarget | S3Target


def target_for(url: str) -> Target:
    if url.startswith("file://"):
        return DirectoryTarget(url)
    if url.startswith("s3://"):
        return S3Target(url)
    raise TargetError(f"unknown publish target {url!r}")  # settings.py refuses it at start


def targets_configured(*, shared: bool | None = None) -> list[Target]:
    """The targets of HELIOGRAPH_PUBLISH_TARGETS; only buckets (shared=True) or only
    directories (shared=False) when asked."""
    targets = [target_for(url) for url in settings.PUBLISH_TARGETS]
    return [t for t in targets if shared is None or t.shared is shared]


def target_host(target: Target) -> str:
    """Whose target this is: every host's (a bucket, "") or this host's (a directory)."""
    return "" if target.shared else HOST


_known_ok: set[tuple[str, str]] = set()  # targets this process last exported to without error
_failed_directories: set[str] = set()  # this host's directories whose last write failed here


def directories_failed() -> bool:
    """Did this process's last write to one of this host's directories fail?"""
    return bool(_failed_directories)


def targets_export(files: list[SiteFile], targets: list[Target]) -> dict[str, str]:
    """Write `files` to each target, each on its own; record each outcome. Returns the errors
    by target URL (empty when every target was written)."""
    errors: dict[str, str] = {}
    for target in targets:
        started = time.monotonic()
        try:
            target.write(files)
        except Exception as exc:
            errors[target.url] = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("publish target %s failed; beat will try it again", target.url)
        else:
            log.info("published to %s in %.2f s", target.url, time.monotonic() - started)
        target_record(target, errors.get(target.url))
    return errors


def target_record(target: Target, error: str | None) -> None:
    """Record a target's outcome for the dashboard and beat's retry. A success is written
    only when this process did not already know the target as working, so a healthy target
    costs no write per publish. Never raises (the database may be what is down)."""
    key = (target.url, target_host(target))
    if not target.shared:
        if error is None:
            _failed_directories.discard(target.url)
        else:
            _failed_directories.add(target.url)
    try:
        if error is None:
            if key not in _known_ok:
                services.publish_target_succeeded(target=target.url, host=key[1])
                _known_ok.add(key)
        else:
            _known_ok.discard(key)
            services.publish_target_failed(target=target.url, host=key[1], error=error)
    except DbError:
        log.exception("could not record the outcome of publish target %s", target.url)
