"""A local stand-in for the Hugging Face Hub, which cannot be reached from the tests.

It speaks, over real HTTP on 127.0.0.1, the part of the Hub API that ``huggingface_hub`` 2.4 and
``datasets`` 5.2 use to publish and load a repository:

- repos: ``POST /api/repos/create``, ``GET /api/{type}s/{id}[/revision/{rev}]`` (info with
  siblings), ``PUT /api/{type}s/{id}/settings`` (``gated``, ``private``/``visibility``),
  ``POST /api/validate-yaml``, ``GET /api/whoami-v2``;
- uploads: ``POST /api/{type}s/{id}/preupload/{rev}`` (regular or LFS upload mode, remote oid),
  the LFS batch API ``POST /{prefix}{id}.git/info/lfs/objects/batch`` with a basic ``PUT`` upload
  and a ``verify`` action, and ``POST /api/{type}s/{id}/commit/{rev}`` (ndjson; ``create_pr=1``
  opens a pull request ``refs/pr/N``). The xet protocol is not spoken: clients run with
  ``HF_HUB_DISABLE_XET=1``, which ``huggingface_hub`` honours by taking its LFS path;
- refs: ``POST``/``DELETE /api/{type}s/{id}/tag/...``, ``GET /api/{type}s/{id}/refs``; a revision
  is a branch, a tag, ``refs/pr/N`` or a commit id;
- reading: ``GET /api/{type}s/{id}/tree/{rev}[/{path}]``, ``POST /api/{type}s/{id}/paths-info/{rev}``,
  ``HEAD``/``GET /{prefix}{id}/resolve/{rev}/{path}`` (with ``Range``);
- gating: file downloads of a gated repo answer 401 (anonymous) or 403 (signed in, no access),
  both with ``X-Error-Code: GatedRepo`` as the Hub does, until the repo's owner grants access
  (``POST /api/{type}s/{id}/user-access-request/grant``); listing files stays open.

Tokens are ``Authorization: Bearer <token>``; ``FakeHub(users={token: (user, [orgs])})``. A user
may write to repos of their own name or of their organisations. ``FakeHub.tamper`` rewrites a
stored file in place, as a compromised storage would, for the tests of verified loading.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_SUFFIXES = (".parquet", ".safetensors", ".bin", ".png", ".jpg", ".arrow", ".pt", ".zip", ".gz")
REGULAR_LIMIT = 10 * 1024 * 1024
TYPES = "models|datasets|spaces"
REPO_ID = r"[\w.\-]+/[\w.\-]+"


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()

    @property
    def oid(self) -> str:
        """The git blob id: of the pointer file for an LFS file, of the content otherwise."""
        return git_blob_oid(self.pointer() if self.lfs else self.data)


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    files: dict[str, Blob]
    date: str


@dataclass
class Repo:
    type: str
    id: str
    private: bool
    created: str
    gated: str | bool = False
    granted: set[str] = field(default_factory=set)
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.id.split("/")[0]

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch, tag, ``refs/pr/N`` or commit id names."""
        revision = unquote(revision)
        pr = re.fullmatch(r"refs/pr/(\d+)", revision)
        oid = (self.pulls.get(int(pr.group(1))) if pr else None) or self.branches.get(revision) \
            or self.tags.get(revision) or (revision if revision in self.commits else None)
        return self.commits.get(oid) if oid else None


class HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, **body: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.body = status, code, message, body


class FakeHub:
    """The Hub's state (repos, commits, LFS objects) behind a threaded HTTP server."""

    def __init__(self, users: dict[str, tuple[str, list[str]]] | None = None):
        self.users = users or {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.RLock()
        self._ids = count(1)
        self._server: ThreadingHTTPServer | None = None

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the tests reach into -------------------------------------------------------------

    def repo(self, repo_type: str, repo_id: str) -> Repo:
        return self.repos[(repo_type, repo_id)]

    def tamper(self, repo_type: str, repo_id: str, path: str, data: bytes, revision: str = "main") -> None:
        """Replace a stored file's bytes under every commit that holds it, leaving refs and ids alone."""
        with self._lock:
            repo = self.repo(repo_type, repo_id)
            target = repo.resolve(revision).files[path]
            for commit in repo.commits.values():
                for name, blob in commit.files.items():
                    if blob is target:
                        commit.files[name] = Blob(data, blob.lfs)

    # -- the API -------------------------------------------------------------------------------

    def user(self, token: str | None) -> tuple[str, list[str]] | None:
        return self.users.get(token) if token else None

    def _can_write(self, user, namespace: str) -> bool:
        return user is not None and (namespace == user[0] or namespace in user[1])

    def _get_repo(self, repo_type: str, repo_id: str, user, write: bool = False) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._can_write(user, repo.namespace)):
            raise HubError(401 if user is None else 404, "RepoNotFound", "Repository not found")
        if write and not self._can_write(user, repo.namespace):
            raise HubError(403, None, f"You don't have the rights to write to {repo_id}")
        return repo

    def _commit_of(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {unquote(revision)}")
        return commit

    def _check_download(self, repo: Repo, user) -> None:
        if not repo.gated or self._can_write(user, repo.namespace) or (user and user[0] in repo.granted):
            return
        kind = "dataset" if repo.type == "dataset" else repo.type
        if user is None:
            raise HubError(401, "GatedRepo", f"Access to {kind} {repo.id} is restricted. You must have access to it "
                                             "and be authenticated to access it. Please log in.")
        raise HubError(403, "GatedRepo", f"Access to {kind} {repo.id} is restricted and you are not in the "
                                         f"authorized list. Visit {self.url}/{PREFIX[repo.type]}{repo.id} to ask for access.")

    def create_repo(self, user, body: dict) -> dict:
        repo_type = body.get("type") or "model"
        namespace = body.get("organization") or (user[0] if user else None)
        repo_id = f"{namespace}/{body['name']}"
        if not self._can_write(user, namespace or ""):
            raise HubError(403 if user else 401, None, f"You don't have the rights to create a repo under {namespace}")
        url = f"{self.url}/{PREFIX[repo_type]}{repo_id}"
        with self._lock:
            if (repo_type, repo_id) in self.repos:
                raise HubError(409, None, "You already created this repo", url=url)
            private = body.get("private") or body.get("visibility") == "private"
            repo = Repo(repo_type, repo_id, bool(private), _now())
            first = self._new_commit(repo, None, "initial commit", {".gitattributes": Blob(_GITATTRIBUTES, False)})
            repo.branches["main"] = first.oid
            self.repos[(repo_type, repo_id)] = repo
        return {"url": url, "name": repo_id}

    def _new_commit(self, repo: Repo, parent: Commit | None, title: str, files: dict[str, Blob]) -> Commit:
        seed = f"{repo.id}\n{parent.oid if parent else ''}\n{title}\n{next(self._ids)}".encode()
        commit = Commit(hashlib.sha1(seed).hexdigest(), parent.oid if parent else None, title, files, _now())
        repo.commits[commit.oid] = commit
        return commit

    def info(self, repo: Repo, revision: str, blobs: bool) -> dict:
        commit = self._commit_of(repo, revision)
        siblings = []
        for path, blob in sorted(commit.files.items()):
            entry: dict[str, Any] = {"rfilename": path}
            if blobs:
                entry.update(size=len(blob.data), blobId=blob.oid)
                if blob.lfs:
                    entry["lfs"] = {"size": len(blob.data), "sha256": blob.sha256, "pointerSize": len(blob.pointer())}
            siblings.append(entry)
        card = commit.files.get("README.md")
        return {"id": repo.id, "_id": repo.id, "author": repo.namespace, "sha": commit.oid, "private": repo.private,
                "gated": repo.gated, "disabled": False, "createdAt": repo.created, "lastModified": commit.date,
                "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
                "cardData": _card_data(card.data) if card else None}

    def preupload(self, repo: Repo, revision: str, body: dict) -> dict:
        commit = repo.resolve(revision)
        files = []
        for f in body["files"]:
            sample = base64.b64decode(f["sample"])
            lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] > REGULAR_LIMIT or b"\0" in sample
            remote = commit.files.get(f["path"]) if commit else None
            oid = None
            if remote is not None:
                oid = remote.sha256 if remote.lfs else git_blob_oid(remote.data)
            files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": oid})
        return {"files": files, "commitOid": commit.oid if commit else None}

    def lfs_batch(self, repo: Repo, body: dict) -> dict:
        base = f"{self.url}/{PREFIX[repo.type]}{repo.id}.git/info/lfs/objects"
        objects = []
        for obj in body["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs:
                entry["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}"},
                                    "verify": {"href": f"{base}/verify"}}
            objects.append(entry)
        return {"transfer": "basic", "objects": objects}

    def lfs_put(self, oid: str, data: bytes) -> None:
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, None, "the uploaded content does not match its oid")
        self.lfs[oid] = data

    def commit(self, repo: Repo, revision: str, lines: list[dict], create_pr: bool) -> dict:
        with self._lock:
            head = self._commit_of(repo, revision)
            header = lines[0]["value"]
            if header.get("parentCommit") and header["parentCommit"] != head.oid:
                raise HubError(412, None, "A commit has happened since. Please refresh and try again.")
            files = dict(head.files)
            for line in lines[1:]:
                key, value = line["key"], line["value"]
                if key == "file":
                    files[value["path"]] = Blob(base64.b64decode(value["content"]), False)
                elif key == "lfsFile":
                    if value["oid"] not in self.lfs:
                        raise HubError(400, None, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                    files[value["path"]] = Blob(self.lfs[value["oid"]], True)
                elif key == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        raise HubError(404, "EntryNotFound", "A file with this name doesn't exist")
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: b for p, b in files.items() if not p.startswith(prefix)}
                else:
                    raise HubError(400, None, f"unsupported commit operation {key!r}")
            commit = self._new_commit(repo, head, header["summary"], files)
            url = f"{self.url}/{PREFIX[repo.type]}{repo.id}"
            answer = {"commitUrl": f"{url}/commit/{commit.oid}", "commitOid": commit.oid, "success": True}
            if create_pr:
                number = max(repo.pulls, default=0) + 1
                repo.pulls[number] = commit.oid
                answer["pullRequestUrl"] = f"{url}/discussions/{number}"
            else:
                branch = unquote(revision)
                if branch not in repo.branches:
                    raise HubError(400, None, f"cannot commit to {branch}: not a branch")
                repo.branches[branch] = commit.oid
            return answer

    def tag(self, repo: Repo, revision: str, body: dict) -> dict:
        with self._lock:
            commit = self._commit_of(repo, revision)
            if body["tag"] in repo.tags:
                raise HubError(409, None, "Tag reference exists already")
            repo.tags[body["tag"]] = commit.oid
        return {}

    def refs(self, repo: Repo, include_prs: bool) -> dict:
        def ref(kind: str, name: str, oid: str) -> dict:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}

        answer = {"branches": [ref("heads", n, o) for n, o in repo.branches.items()],
                  "tags": [ref("tags", n, o) for n, o in repo.tags.items()], "converts": []}
        if include_prs:
            answer["pullRequests"] = [{"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": o}
                                      for n, o in repo.pulls.items()]
        return answer

    def entries(self, repo: Repo, revision: str, paths: list[str] | None, folder: str, recursive: bool,
                expand: bool) -> list[dict]:
        """Tree entries: under ``folder`` (one level, or all with ``recursive``), or exactly ``paths``."""
        commit = self._commit_of(repo, revision)
        folders = {str(parent) for path in commit.files for parent in _parents(path)}
        last = {"id": commit.oid, "title": commit.title, "date": commit.date}

        def file_entry(path: str) -> dict:
            blob = commit.files[path]
            entry = {"type": "file", "oid": blob.oid, "size": len(blob.data), "path": path}
            if blob.lfs:
                entry["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": len(blob.pointer())}
            if expand:
                entry["lastCommit"] = last
            return entry

        def folder_entry(path: str) -> dict:
            inside = sorted(p for p in commit.files if p.startswith(path + "/"))
            oid = hashlib.sha1("\n".join(commit.files[p].oid + p for p in inside).encode()).hexdigest()
            return {"type": "directory", "oid": oid, "size": 0, "path": path, **({"lastCommit": last} if expand else {})}

        if paths is not None:
            return [file_entry(p) if p in commit.files else folder_entry(p) for p in paths
                    if p in commit.files or p in folders]
        folder = folder.strip("/")
        if folder and folder not in folders:
            raise HubError(404, "EntryNotFound", f"{folder} does not exist on {revision}")
        prefix = f"{folder}/" if folder else ""
        names = sorted({*commit.files, *folders} - {""})
        chosen = [n for n in names if n.startswith(prefix) and (recursive or "/" not in n[len(prefix):])]
        return [file_entry(n) if n in commit.files else folder_entry(n) for n in chosen]

    def file(self, repo: Repo, revision: str, path: str, user) -> tuple[Commit, Blob]:
        commit = self._commit_of(repo, revision)
        self._check_download(repo, user)
        blob = commit.files.get(path)
        if blob is None:
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {unquote(revision)}")
        return commit, blob


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip() or None
        self.user = self.hub.user(token)
        self.hub.requests.append((method, url.path))
        try:
            for route_method, pattern, handler in ROUTES:
                match = re.fullmatch(pattern, url.path)
                if match and route_method == method:
                    return handler(self, **match.groupdict())
            raise HubError(404, None, f"no route {method} {url.path} in the local Hub stand-in")
        except HubError as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send(err.status, {"error": err.message, **err.body}, headers)

    # -- helpers -------------------------------------------------------------------------------

    def _json(self) -> Any:
        return json.loads(self.body or b"{}")

    def _flag(self, name: str) -> bool:
        return (self.query.get(name) or ["0"])[0].lower() in ("1", "true")

    def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> None:
        data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value.encode("ascii", "replace").decode())
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _repo(self, kind: str, repo_id: str, write: bool = False) -> Repo:
        return self.hub._get_repo(kind.removesuffix("s"), repo_id, self.user, write)

    # -- routes --------------------------------------------------------------------------------

    def whoami(self) -> None:
        if self.user is None:
            raise HubError(401, None, "Invalid credentials in Authorization header")
        name, orgs = self.user
        self._send(200, {"type": "user", "name": name, "orgs": [{"name": o} for o in orgs],
                         "auth": {"type": "access_token", "accessToken": {"role": "write"}}})

    def validate_yaml(self) -> None:
        content = self._json().get("content", "")
        match = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        try:
            data = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as err:
            return self._send(400, {"errors": [{"message": f"invalid YAML: {err}"}]})
        if data is not None and not isinstance(data, dict):
            return self._send(400, {"errors": [{"message": "metadata must be a mapping"}]})
        self._send(200, {"errors": [], "warnings": []})

    def create(self) -> None:
        self._send(200, self.hub.create_repo(self.user, self._json()))

    def info(self, kind: str, repo_id: str, revision: str = "main") -> None:
        repo = self._repo(kind, repo_id)
        self._send(200, self.hub.info(repo, revision, self._flag("blobs")))

    def settings(self, kind: str, repo_id: str) -> None:
        repo = self._repo(kind, repo_id, write=True)
        body = self._json()
        if "gated" in body:
            if body["gated"] not in (False, "auto", "manual"):
                raise HubError(400, None, "gated must be false, 'auto' or 'manual'")
            repo.gated = body["gated"]
        if "private" in body:
            repo.private = bool(body["private"])
        if "visibility" in body:
            repo.private = body["visibility"] == "private"
        self._send(200, {})

    def grant(self, kind: str, repo_id: str) -> None:
        repo = self._repo(kind, repo_id, write=True)
        if not repo.gated:
            raise HubError(400, None, "the repo is not gated")
        repo.granted.add(self._json()["user"])
        self._send(200, {})

    def preupload(self, kind: str, repo_id: str, revision: str) -> None:
        repo = self._repo(kind, repo_id, write=True)
        self._send(200, self.hub.preupload(repo, revision, self._json()))

    def lfs_batch(self, prefix: str, repo_id: str) -> None:
        repo = self._repo((prefix or "models/").rstrip("/"), repo_id, write=True)
        self._send(200, self.hub.lfs_batch(repo, self._json()), {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_verify(self, prefix: str, repo_id: str) -> None:
        self._repo((prefix or "models/").rstrip("/"), repo_id, write=True)
        body = self._json()
        if body["oid"] not in self.hub.lfs or len(self.hub.lfs[body["oid"]]) != body["size"]:
            raise HubError(404, None, "object not found")
        self._send(200, {})

    def lfs_put(self, oid: str) -> None:
        self.hub.lfs_put(oid, self.body)
        self._send(200, {})

    def commit(self, kind: str, repo_id: str, revision: str) -> None:
        repo = self._repo(kind, repo_id, write=True)
        lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        self._send(200, self.hub.commit(repo, revision, lines, self._flag("create_pr")))

    def create_tag(self, kind: str, repo_id: str, revision: str) -> None:
        repo = self._repo(kind, repo_id, write=True)
        self._send(200, self.hub.tag(repo, revision, self._json()))

    def delete_tag(self, kind: str, repo_id: str, tag: str) -> None:
        repo = self._repo(kind, repo_id, write=True)
        if repo.tags.pop(unquote(tag), None) is None:
            raise HubError(404, "RevisionNotFound", f"no tag {unquote(tag)}")
        self._send(200, {})

    def refs(self, kind: str, repo_id: str) -> None:
        self._send(200, self.hub.refs(self._repo(kind, repo_id), self._flag("include_prs")))

    def tree(self, kind: str, repo_id: str, revision: str, path: str = "") -> None:
        repo = self._repo(kind, repo_id)
        self._send(200, self.hub.entries(repo, revision, None, unquote(path or ""), self._flag("recursive"),
                                         self._flag("expand")))

    def paths_info(self, kind: str, repo_id: str, revision: str) -> None:
        repo = self._repo(kind, repo_id)
        if "json" in (self.headers.get("Content-Type") or ""):
            form = self._json()
            paths, expand = form.get("paths", []), bool(form.get("expand"))
        else:
            form = parse_qs(self.body.decode())
            paths, expand = form.get("paths", []), (form.get("expand") or ["False"])[0].lower() == "true"
        self._send(200, self.hub.entries(repo, revision, paths, "", False, expand))

    def resolve(self, prefix: str, repo_id: str, revision: str, path: str) -> None:
        repo = self._repo((prefix or "models/").rstrip("/"), repo_id)
        commit, blob = self.hub.file(repo, revision, unquote(path), self.user)
        data, status = blob.data, 200
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{blob.sha256 if blob.lfs else blob.oid}"',
                   "Accept-Ranges": "bytes"}
        if blob.lfs:
            headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data))})
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range") or "")
        if wanted:
            start = int(wanted.group(1) or 0)
            end = min(int(wanted.group(2)) if wanted.group(2) else len(data) - 1, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start:end + 1], 206
        headers["Content-Length"] = str(len(data))
        self._send(status, headers=headers, raw=data)


_REPO = rf"(?P<repo_id>{REPO_ID})"
_KIND = rf"/api/(?P<kind>{TYPES})/{_REPO}"
_REV = r"(?P<revision>[^/]+)"
_PREFIX = r"/(?P<prefix>datasets/|spaces/)?"
ROUTES = [
    ("GET", r"/api/whoami-v2", _Handler.whoami),
    ("POST", r"/api/validate-yaml", _Handler.validate_yaml),
    ("POST", r"/api/repos/create", _Handler.create),
    ("GET", rf"{_KIND}/revision/{_REV}", _Handler.info),
    ("GET", rf"{_KIND}", _Handler.info),
    ("PUT", rf"{_KIND}/settings", _Handler.settings),
    ("POST", rf"{_KIND}/user-access-request/grant", _Handler.grant),
    ("POST", rf"{_KIND}/preupload/{_REV}", _Handler.preupload),
    ("POST", rf"{_KIND}/commit/{_REV}", _Handler.commit),
    ("POST", rf"{_KIND}/tag/{_REV}", _Handler.create_tag),
    ("DELETE", rf"{_KIND}/tag/(?P<tag>[^/]+)", _Handler.delete_tag),
    ("GET", rf"{_KIND}/refs", _Handler.refs),
    ("GET", rf"{_KIND}/tree/{_REV}(?:/(?P<path>.+))?", _Handler.tree),
    ("POST", rf"{_KIND}/paths-info/{_REV}", _Handler.paths_info),
    ("POST", rf"{_PREFIX}{_REPO}\.git/info/lfs/objects/batch", _Handler.lfs_batch),
    ("POST", rf"{_PREFIX}{_REPO}\.git/info/lfs/objects/verify", _Handler.lfs_verify),
    ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", _Handler.lfs_put),
    ("GET", rf"{_PREFIX}{_REPO}/resolve/{_REV}/(?P<path>.+)", _Handler.resolve),
    ("HEAD", rf"{_PREFIX}{_REPO}/resolve/{_REV}/(?P<path>.+)", _Handler.resolve),
]

_GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES).encode()


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _card_data(readme: bytes) -> dict | None:
    match = re.match(r"^---\n(.*?)\n---\n", readme.decode("utf-8", "replace"), re.S)
    try:
        data = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
