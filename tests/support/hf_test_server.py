"""``HfTestServer``: a small Hugging Face Hub-compatible HTTP server for tests, on 127.0.0.1.

It is a test double, named as one. The real ``huggingface_hub`` client talks to it through
``HF_ENDPOINT``. It serves the endpoints cosmos-tui's hub code uses:

- ``GET /api/whoami-v2``                                   (who owns a token)
- ``GET /api/models/<org>/<name>[/revision/<rev>]``        (model info, ``?blobs=true`` for sizes)
- ``GET /api/models/<org>/<name>/auth-check``              (can this token read the repo)
- ``HEAD|GET /<org>/<name>/resolve/<rev>/<path>``          (file metadata and downloads, with Range)

and the same under ``/api/datasets/...`` and ``/datasets/<org>/<name>/resolve/...`` for dataset
repos, which are added with the key ``datasets/<org>/<name>``;

and the failure cases the Hub signals: gated (401/403 with ``X-Error-Code: GatedRepo``), denied
(403 without a code), disabled, missing repo (``RepoNotFound``), missing file (``EntryNotFound``),
missing revision (``RevisionNotFound``), a pinned revision of a readable repo that answers 403
without an error code (``forbidden_revisions``: what old pins can do after the Hub's storage
migration), and slow or dropped downloads. Every request is logged in
``requests`` so tests can assert what the client sent (a ``Range`` header on resume, for example).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class TestRepo:
    """One model repo served by :class:`HfTestServer`."""

    __test__ = False  # not a pytest test class

    files: dict[str, bytes]
    gated: bool = False
    granted: set[str] = field(default_factory=set)  # users who accepted the licence
    forbidden: set[str] = field(default_factory=set)  # users refused outright (403, no GatedRepo)
    disabled: bool = False
    revisions: set[str] = field(default_factory=lambda: {"main"})  # extra accepted revisions
    # Revisions (also add them to ``revisions``) whose files answer 403 with no error code while
    # ``main`` still reads: pins made before the Hub's storage migration can do that.
    forbidden_revisions: set[str] = field(default_factory=set)
    commit: str = ""

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()


@dataclass(frozen=True)
class SeenRequest:
    """One request the server received."""

    method: str
    path: str
    range: str | None
    token: str | None


class HfTestServer:
    """A threaded Hub-compatible server; use as a context manager or call start()/stop()."""

    __test__ = False

    def __init__(self) -> None:
        self.users: dict[str, str] = {}  # token -> username
        self.repos: dict[str, TestRepo] = {}
        self.requests: list[SeenRequest] = []
        self.drop_once: set[tuple[str, str]] = set()  # (repo_id, path): cut the body halfway, once
        self.chunk_delay: float = 0.0  # seconds between 64 KiB chunks of a download
        self.chunk_size: int = 64 * 1024
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- setup ---------------------------------------------------------------------------------
    def add_user(self, token: str, name: str) -> None:
        self.users[token] = name

    def add_repo(self, repo_id: str, files: dict[str, bytes], **kwargs) -> TestRepo:
        repo = TestRepo(files=dict(files), **kwargs)
        if not repo.commit:
            repo.commit = hashlib.sha1((repo_id + "\n".join(sorted(files))).encode()).hexdigest()
        self.repos[repo_id] = repo
        return repo

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HfTestServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hf-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> HfTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def seen(self, method: str | None = None, contains: str = "") -> list[SeenRequest]:
        """Requests received so far, filtered by method and a substring of the path."""
        with self._lock:
            return [r for r in self.requests if (method is None or r.method == method) and contains in r.path]

    # -- access rules --------------------------------------------------------------------------
    def _resolve(self, repo_id: str, token: str | None) -> tuple[int, dict[str, str]] | TestRepo:
        """The repo, or the error (status, headers) the Hub would answer for this token."""
        user = self.users.get(token) if token else None
        if token and user is None:
            return 401, {"X-Error-Message": "Invalid credentials in Authorization header"}
        repo = self.repos.get(repo_id)
        if repo is None:
            return (404 if user else 401), {
                "X-Error-Code": "RepoNotFound",
                "X-Error-Message": "Repository not found",
            }
        if repo.disabled:
            return 403, {"X-Error-Message": "Access to this resource is disabled."}
        if user in repo.forbidden:
            return 403, {"X-Error-Message": "Your token does not have permission to read this repository."}
        if repo.gated and user not in repo.granted:
            msg = (
                f"Access to model {repo_id} is restricted and you are not in the authorized list. "
                f"Visit {self.url}/{repo_id} to ask for access."
            )
            return (403 if user else 401), {"X-Error-Code": "GatedRepo", "X-Error-Message": msg}
        return repo


def _key(kind: str, repo_id: str) -> str:
    """The key of a repo in ``HfTestServer.repos``: the id for models, ``datasets/<id>`` for datasets."""
    return f"datasets/{repo_id}" if kind.startswith("datasets") else repo_id


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # clients hanging up are expected here
        pass


class _Handler(BaseHTTPRequestHandler):
    owner: HfTestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _token(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        return auth[7:] if auth.startswith("Bearer ") else None

    def _record(self) -> None:
        path = urlsplit(self.path).path
        with self.owner._lock:
            self.owner.requests.append(
                SeenRequest(self.command, path, self.headers.get("Range"), self._token())
            )

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode())

    def _error(self, status: int, headers: dict[str, str]) -> None:
        self._json(status, {"error": headers.get("X-Error-Message", "error")}, headers)

    # -- routes --------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        self._record()
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        if path == "/api/whoami-v2":
            return self._whoami()
        m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)/auth-check", path)
        if m:
            return self._auth_check(_key(m.group(1), m.group(2)))
        m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m:
            key = _key(m.group(1), m.group(2))
            return self._model_info(key, m.group(3) or "main", query.get("blobs") == ["true"])
        m = re.fullmatch(r"/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._resolve_file(_key(m.group(1) or "models", m.group(2)), m.group(3), m.group(4))
        self._error(404, {"X-Error-Message": "Not found"})

    def _whoami(self) -> None:
        name = self.owner.users.get(self._token() or "")
        if name is None:
            return self._error(401, {"X-Error-Message": "Invalid credentials in Authorization header"})
        self._json(
            200,
            {
                "type": "user",
                "name": name,
                "fullname": name.title(),
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "cosmos-tui-test", "role": "read"},
                },
            },
        )

    def _auth_check(self, repo_id: str) -> None:
        found = self.owner._resolve(repo_id, self._token())
        if isinstance(found, tuple):
            return self._error(*found)
        self._json(200, {})

    def _revision(self, repo: TestRepo, revision: str) -> str | None:
        if revision == repo.commit or revision in repo.revisions:
            return revision if _COMMIT.match(revision) else repo.commit
        return None

    def _model_info(self, repo_id: str, revision: str, blobs: bool) -> None:
        repo = self.owner.repos.get(repo_id)
        user = self.owner.users.get(self._token() or "")
        if repo is None:  # model info of gated repos is public, like on the Hub
            return self._error(404 if user else 401, {"X-Error-Code": "RepoNotFound"})
        commit = self._revision(repo, revision)
        if commit is None:
            return self._error(404, {"X-Error-Code": "RevisionNotFound"})
        siblings = []
        for name, data in sorted(repo.files.items()):
            sib: dict = {"rfilename": name}
            if blobs:
                sib.update(
                    size=len(data),
                    blobId=hashlib.sha1(data).hexdigest(),
                    lfs={"size": len(data), "sha256": repo.sha256(name), "pointerSize": 134},
                )
            siblings.append(sib)
        self._json(
            200,
            {
                "id": repo_id,
                "modelId": repo_id,
                "sha": commit,
                "private": False,
                "gated": "manual" if repo.gated else False,
                "disabled": repo.disabled,
                "siblings": siblings,
            },
        )

    def _resolve_file(self, repo_id: str, revision: str, filename: str) -> None:
        found = self.owner._resolve(repo_id, self._token())
        if isinstance(found, tuple):
            return self._error(*found)
        repo = found
        commit = self._revision(repo, revision)
        if commit is None:
            return self._error(404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"})
        if revision in repo.forbidden_revisions:
            return self._error(403, {"X-Error-Message": "Forbidden"})
        if filename not in repo.files:
            return self._error(404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
        data = repo.files[filename]
        headers = {
            "X-Repo-Commit": commit,
            "ETag": f'"{repo.sha256(filename)}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if m:
                start = int(m.group(1))
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if self.command == "HEAD":
            return self._send(200, headers, b"") if not body else self._head(headers, len(data))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        key = (repo_id, filename)
        drop = False
        with self.owner._lock:
            if key in self.owner.drop_once:
                self.owner.drop_once.discard(key)
                drop = True
        limit = len(body) // 2 if drop else len(body)
        sent = 0
        while sent < limit:
            chunk = body[sent : min(limit, sent + self.owner.chunk_size)]
            try:
                self.wfile.write(chunk)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            sent += len(chunk)
            if self.owner.chunk_delay:
                time.sleep(self.owner.chunk_delay)
        if drop:  # cut the connection mid-body, as a flaky network would
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _head(self, headers: dict[str, str], size: int) -> None:
        self.send_response(200)
        for k, v in headers.items():
            if k != "Content-Range":
                self.send_header(k, v)
        self.send_header("Content-Length", str(size))
        self.end_headers()
