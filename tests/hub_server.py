"""A small Hugging Face Hub-compatible HTTP server for the tests, on 127.0.0.1.

It implements what ``huggingface_hub`` 2.x calls to push and to download a model or dataset repo (what
``CommitScheduler`` and ``snapshot_download`` call among it): create repo, create branch, validate YAML,
preupload, the Git LFS batch API (basic transfer: a PUT to a URL this server gives, then verify), commit
(NDJSON, with "file" and "lfsFile" lines), repo info, the recursive tree listing, and resolve (HEAD and
GET). As on the Hub, preupload answers "lfs" for binary files and those .gitattributes routes to LFS
(.safetensors, .png), "regular" for text. Repos live in memory, dataset repos under the key
``datasets/owner/name``; ``Hub.repos`` lets tests read back what was pushed (``Repo.changes``: the paths
each commit wrote), ``Hub.lfs_uploads`` which objects came through LFS, and ``Hub.requests`` every
request line and header but Authorization (to check that no token leaks elsewhere). ``Hub.fault = "down"``
answers 503 to everything, as a Hub in an outage; ``"refuse"`` answers 403 to every write.

The client uses Xet storage instead of LFS when ``hf_xet`` is installed; tests set HF_HUB_DISABLE_XET=1.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml


@dataclass
class Repo:
    owner: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> {path: content}
    messages: dict[str, str] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)  # sha -> paths the commit added or changed


class Hub:
    def __init__(self, tokens: dict[str, str]):
        self.tokens = tokens  # token -> user name
        self.repos: dict[str, Repo] = {}
        self.requests: list[str] = []  # request lines and headers, Authorization left out
        self.authorized = 0  # how many requests carried an Authorization header
        # Faults for downloads ("resolve"): None, "500" or "403" (every answer), "cut" (weights stop half-way
        # and the connection closes), "trickle" (the weights at 200 bytes a second: no single read times out);
        # and "down": every request, of any kind, answered 503; "refuse": every write answered 403.
        self.fault: str | None = None
        self.lock = threading.Lock()
        self._counter = 0
        self.lfs: dict[str, bytes] = {}  # sha256 -> content of every object uploaded through LFS
        self.lfs_uploads: list[str] = []  # sha256 of each object PUT, in order
        self.lfs_pointers: set[tuple[str, str]] = set()  # (repo_id, path) committed as LFS pointers

    def new_sha(self, seed: str) -> str:
        self._counter += 1
        return hashlib.sha1(f"{seed}-{self._counter}".encode()).hexdigest()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo.commits[repo.branches.get(revision, revision)]


def repo_key(kind: str, owner: str, name: str) -> str:
    """Where a repo is kept: ``owner/name`` for a model, ``datasets/owner/name`` for a dataset."""
    return f"{owner}/{name}" if kind in ("model", "models") else f"datasets/{owner}/{name}"


LFS_PATTERNS = ("*.safetensors", "*.bin", "*.png", "*.pt")  # the initial commit's .gitattributes routes these


def upload_mode(entry: dict) -> str:
    """The Hub's choice for one preupload entry: LFS for the patterns and for binary content."""
    sample = base64.b64decode(entry.get("sample", ""))
    binary = b"\x00" in sample
    try:
        sample.decode()
    except UnicodeDecodeError:
        binary = True
    return "lfs" if binary or any(fnmatch.fnmatch(entry["path"], p) for p in LFS_PATTERNS) else "regular"


class HubServer(ThreadingHTTPServer):
    """The HTTP server, holding the store its handlers serve."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.daemon_threads = True
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    @property
    def hub(self) -> Hub:
        return self.server.hub

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    # --- helpers ---
    def user(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return self.hub.tokens.get(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None

    def send(self, status: int, body: bytes | dict | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if isinstance(body, dict):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, status: int, message: str, code: str | None = None) -> None:
        headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {})}
        self.send(status, {"error": message}, headers)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def record(self) -> None:
        with self.hub.lock:
            headers = "; ".join(f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "authorization")
            self.hub.requests.append(f"{self.command} {self.path} {headers}")
            self.hub.authorized += "Authorization" in self.headers

    def require_writer(self, owner: str) -> bool:
        user = self.user()
        if user is None:
            self.error(401, "Invalid credentials in Authorization header")
            return False
        if user != owner:
            self.error(403, f"You don't have the rights to write to the namespace {owner}")
            return False
        return True

    def find_repo(self, repo_id: str) -> Repo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and self.user() != repo.owner):
            self.error(404, "Repository not found", "RepoNotFound")
            return None
        return repo

    def resolve_revision(self, repo: Repo, revision: str) -> str | None:
        sha = repo.branches.get(revision) or (revision if revision in repo.commits else None)
        if sha is None:
            self.error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    # --- routes ---
    def down(self) -> bool:
        """In an outage ("down") every request gets 503; a Hub that refuses ("refuse") answers every write
        with 403. The body is read first, so the connection stays usable."""
        if self.hub.fault == "down":
            self.body()
            self.error(503, "Service Unavailable")
            return True
        if self.hub.fault == "refuse" and self.command in ("POST", "PUT"):
            self.body()
            self.error(403, "Forbidden: the token cannot write here")
            return True
        return False

    def do_POST(self) -> None:
        self.record()
        if self.down():
            return
        path = unquote(urlsplit(self.path).path)
        parts = path.strip("/").split("/")
        body = self.body()
        if path == "/api/repos/create":
            return self.create_repo(json.loads(body))
        if path == "/api/validate-yaml":
            return self.validate_yaml(json.loads(body))
        lfs_repo, _, lfs_action = path.removeprefix("/").partition(".git/info/lfs/objects/")
        if lfs_action == "batch":
            return self.lfs_batch(lfs_repo, json.loads(body))
        if lfs_action == "verify":
            return self.lfs_verify(lfs_repo, json.loads(body))
        if len(parts) >= 6 and parts[0] == "api" and parts[1] in ("models", "datasets"):
            repo_id, action, revision = repo_key(parts[1], parts[2], parts[3]), parts[4], "/".join(parts[5:])
            repo = self.find_repo(repo_id)
            if repo is None or not self.require_writer(repo.owner):
                return
            if action == "preupload":
                files = json.loads(body)["files"]
                modes = [{"path": f["path"], "uploadMode": upload_mode(f), "shouldIgnore": False} for f in files]
                return self.send(200, {"files": modes, "commitOid": repo.branches.get(revision)})
            if action == "commit":
                return self.commit(repo_id, repo, revision, body)
            if action == "branch":
                if revision in repo.branches:
                    return self.error(409, "Reference already exists")
                repo.branches[revision] = repo.branches["main"]
                return self.send(200, {})
        self.error(404, f"Unknown endpoint {path}")

    def lfs_batch(self, repo_id: str, payload: dict) -> None:
        """Git LFS batch API, upload, basic transfer: each object not stored yet gets an upload URL."""
        repo = self.find_repo(repo_id)
        if repo is None or not self.require_writer(repo.owner):
            return
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
            return self.error(400, "Only basic uploads are supported here")
        base = f"http://{self.headers['Host']}"
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.hub.lfs:  # already stored: no actions, the client skips the upload
                entry["actions"] = {
                    "upload": {"href": f"{base}/lfs-upload/{obj['oid']}", "header": {}},
                    "verify": {"href": f"{base}/{repo_id}.git/info/lfs/objects/verify", "header": {}},
                }
            objects.append(entry)
        self.send(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

    def do_PUT(self) -> None:
        """The storage URL a batch answer points to (S3 on the Hub): content must match its sha256."""
        self.record()
        if self.down():
            return
        path = unquote(urlsplit(self.path).path)
        if not path.startswith("/lfs-upload/"):
            return self.error(404, f"Unknown endpoint {path}")
        oid, content = path.removeprefix("/lfs-upload/"), self.body()
        if hashlib.sha256(content).hexdigest() != oid:
            return self.error(400, "Content does not match its sha256")
        with self.hub.lock:
            self.hub.lfs[oid] = content
            self.hub.lfs_uploads.append(oid)
        self.send(200, b"")

    def lfs_verify(self, repo_id: str, payload: dict) -> None:
        if self.find_repo(repo_id) is None:
            return
        content = self.hub.lfs.get(payload.get("oid", ""))
        if content is None or len(content) != payload.get("size"):
            return self.error(404, "Object not found or of another size")
        self.send(200, {})

    def create_repo(self, payload: dict) -> None:
        owner = payload.get("organization") or (self.user() or "")
        if not self.require_writer(owner):
            return
        name = payload["name"]
        repo_id = repo_key(payload.get("type") or "model", owner, name)
        url = f"http://{self.headers['Host']}/{repo_id}"
        if repo_id in self.hub.repos:  # the real Hub also answers the URL with its 409
            message = "You already created this model repo"
            return self.send(409, {"error": message, "url": url}, {"X-Error-Message": message})
        with self.hub.lock:
            sha = self.hub.new_sha(repo_id)
            private = payload.get("visibility") == "private" or bool(payload.get("private"))
            repo = Repo(owner=owner, private=private)
            attributes = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)
            repo.commits[sha] = {".gitattributes": attributes.encode()}
            repo.branches["main"] = sha
            repo.messages[sha] = "initial commit"
            self.hub.repos[repo_id] = repo
        self.send(200, {"url": url, "name": repo_id})

    def validate_yaml(self, payload: dict) -> None:
        content: str = payload.get("content", "")
        if content.startswith("---"):
            try:
                yaml.safe_load(content.split("---")[1])
            except yaml.YAMLError as err:
                return self.error(400, f"Invalid YAML in README.md: {err}")
        self.send(200, {"errors": [], "warnings": []})

    def commit(self, repo_id: str, repo: Repo, revision: str, body: bytes) -> None:
        if revision not in repo.branches:
            return self.error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        with self.hub.lock:
            files = dict(repo.commits[repo.branches[revision]])
            for line in lines:
                if line["key"] == "file":
                    value = line["value"]
                    assert value.get("encoding") == "base64"
                    files[value["path"]] = base64.b64decode(value["content"])
                elif line["key"] == "lfsFile":
                    value = line["value"]
                    if value["oid"] not in self.hub.lfs:
                        return self.error(422, f"LFS object of {value['path']} was never uploaded")
                    files[value["path"]] = self.hub.lfs[value["oid"]]
                    self.hub.lfs_pointers.add((repo_id, value["path"]))
                elif line["key"] == "deletedFile":
                    files.pop(line["value"]["path"], None)
                elif line["key"] != "header":
                    return self.error(400, f"Unsupported commit operation {line['key']}")
            sha = self.hub.new_sha(repo_id)
            repo.commits[sha] = files
            repo.changes[sha] = [line["value"]["path"] for line in lines if line["key"] in ("file", "lfsFile")]
            repo.messages[sha] = header["summary"]
            repo.branches[revision] = sha
        url = f"http://{self.headers['Host']}/{repo_id}/commit/{sha}"
        self.send(200, {"success": True, "commitOid": sha, "commitUrl": url})

    def do_GET(self) -> None:
        self.record()
        if self.down():
            return
        path = unquote(urlsplit(self.path).path)
        parts = path.strip("/").split("/")
        if len(parts) >= 4 and parts[0] == "api" and parts[1] in ("models", "datasets"):
            repo = self.find_repo(repo_key(parts[1], parts[2], parts[3]))
            if repo is None:
                return
            action = parts[4] if len(parts) > 4 else "revision"
            sha = self.resolve_revision(repo, parts[5] if len(parts) > 5 else "main")
            if sha is None:
                return
            if action == "tree":  # the whole tree in one page (recursive listing)
                prefix = "/".join(parts[6:])
                return self.send_json_list(tree_entries(repo.commits[sha], prefix))
            siblings = [{"rfilename": name} for name in sorted(repo.commits[sha])]
            return self.send(
                200,
                {"id": f"{parts[2]}/{parts[3]}", "sha": sha, "private": repo.private, "siblings": siblings},
            )
        if parts[0] == "datasets" and len(parts) >= 6 and parts[3] == "resolve":
            return self.resolve(repo_key("datasets", parts[1], parts[2]), parts[4], "/".join(parts[5:]))
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]))
        self.error(404, f"Unknown endpoint {path}")

    def send_json_list(self, items: list) -> None:
        data = json.dumps(items).encode()
        self.send(200, data, {"Content-Type": "application/json"})

    do_HEAD = do_GET

    def resolve(self, repo_id: str, revision: str, filename: str) -> None:
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        sha = self.resolve_revision(repo, revision)
        if sha is None:
            return
        content = repo.commits[sha].get(filename)
        if content is None:
            return self.error(404, f"Entry not found: {filename}", "EntryNotFound")
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
            "Content-Type": "application/octet-stream",
        }
        if (repo_id, filename) in self.hub.lfs_pointers:  # as the Hub describes an LFS file
            headers |= {"X-Linked-Etag": headers["ETag"], "X-Linked-Size": str(len(content))}
        if self.hub.fault == "500":
            return self.error(500, "Internal Error - We're working hard to fix this as soon as possible!")
        if self.hub.fault == "403":
            return self.error(403, "Access to this file has been disabled")
        if self.hub.fault in ("cut", "trickle") and self.command == "GET" and filename.endswith(".safetensors"):
            return self.send_faulty(content, headers)
        self.send(200, content, headers)

    def send_faulty(self, content: bytes, headers: dict[str, str]) -> None:
        self.send_response(200)
        for key, value in {**headers, "Content-Length": str(len(content))}.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            if self.hub.fault == "cut":
                self.wfile.write(content[: len(content) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # socket.SHUT_RDWR: the body ends early
                return
            for start in range(0, len(content), 20):  # trickle: 20 bytes every 0.1 s
                self.wfile.write(content[start : start + 20])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the client gave up
            self.close_connection = True


def tree_entries(files: dict[str, bytes], prefix: str = "") -> list[dict]:
    """The Hub's tree listing of a commit's files under ``prefix``, with their folders."""
    names = sorted(name for name in files if name.startswith(prefix))
    folders = sorted({"/".join(name.split("/")[:i]) for name in names for i in range(1, name.count("/") + 1)})
    entries = [
        {"type": "directory", "path": folder, "oid": hashlib.sha1(folder.encode()).hexdigest()} for folder in folders
    ]
    for name in names:
        content = files[name]
        entries.append({"type": "file", "path": name, "size": len(content), "oid": hashlib.sha1(content).hexdigest()})
    return entries


def start_hub(tokens: dict[str, str]) -> tuple[Hub, HubServer, str]:
    """Start the server on a free port; return the store, the server (to shut down) and its URL."""
    hub = Hub(tokens)
    server = HubServer(hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hub, server, f"http://127.0.0.1:{server.server_address[1]}"
