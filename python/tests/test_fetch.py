"""glocal.align and Transform.from_model by model name against a loopback HTTP server
(127.0.0.1, inside this process) serving ../shared/transforms: the CLI's registry, sha256 pins,
cache, GLOCAL_BASE_URL and GLOCAL_CACHE_DIR, cautions as warnings, errors as GlocalError."""

import http.server
import threading
import warnings

import numpy as np
import pytest

import glocal


class _Handler(http.server.BaseHTTPRequestHandler):
    root = None
    overrides = {}
    requests = []

    def do_GET(self):  # noqa: N802 (the http.server API)
        type(self).requests.append(self.path)
        rel = self.path[len("/transforms/"):] if self.path.startswith("/transforms/") else ""
        body = type(self).overrides.get(rel)
        if body is None and rel and ".." not in rel:
            f = type(self).root / rel
            body = f.read_bytes() if f.is_file() else None
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(shared, tmp_path, monkeypatch):
    handler = type("Handler", (_Handler,), {"root": shared / "transforms", "overrides": {}, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GLOCAL_BASE_URL", f"http://127.0.0.1:{httpd.server_address[1]}/transforms")
    monkeypatch.setenv("GLOCAL_CACHE_DIR", str(tmp_path / "cache"))
    yield handler
    httpd.shutdown()
    httpd.server_close()


def test_align_fetches_once_then_uses_the_cache(server, shared, tmp_path):
    x = np.load(shared / "golden" / "OpenCLIP_ViT-L-14_laion400m_e32__visual" / "x.npy")
    y_ref = np.load(shared / "golden" / "OpenCLIP_ViT-L-14_laion400m_e32__visual" / "y_ref.npy")
    y = glocal.align(x, "OpenCLIP_ViT-L-14_laion400m_e32")
    assert np.abs(y - y_ref).max() / np.abs(y_ref).max() <= 4e-6
    assert server.requests == ["/transforms/OpenCLIP_ViT-L-14_laion400m_e32/visual/transform.npz"]
    cached = tmp_path / "cache" / "OpenCLIP_ViT-L-14_laion400m_e32" / "visual" / "transform.npz"
    assert cached.is_file()
    assert glocal.cache_dir() == tmp_path / "cache"
    # A new Transform from the same name verifies the cached file and downloads nothing.
    t = glocal.Transform.from_model("OpenCLIP_ViT-L-14_laion400m_e32", dtype="f16")
    assert (t.model, t.module, t.dtype) == ("OpenCLIP_ViT-L-14_laion400m_e32", "visual", "f16")
    assert len(server.requests) == 1
    listed = {m["model"]: m for m in glocal.models()}
    assert len(listed) == 12
    assert listed["OpenCLIP_ViT-L-14_laion400m_e32"]["cached"] is True
    assert listed["clip_RN50"]["cached"] is False
    assert listed["resnet50"]["sha256"] is None and listed["resnet50"]["dim"] == 2048


def test_slash_in_model_name_and_normalize(server, shared):
    x = np.load(shared / "golden" / "clip_ViT-L_14__visual" / "x.npy")
    y = glocal.align(x, "clip_ViT-L/14", "visual", normalize=True, threads=2)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, rtol=1e-5)
    assert server.requests == ["/transforms/clip_ViT-L/14/visual/transform.npz"]


def test_cautions_are_warnings(server, shared):
    x = np.load(shared / "golden" / "resnet18__avgpool" / "x.npy")
    with pytest.warns(glocal.GlocalCaution, match="resnet18 is an ImageNet model"):
        glocal.Transform.from_model("resnet18")
    with pytest.warns(glocal.GlocalCaution, match="byte-identical to dino-vit-base-p16"):
        glocal.Transform.from_model("dinov2-vit-base-p14")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        glocal.Transform.from_model("dino-vit-base-p16")  # no caution
        glocal.Transform.from_model("clip_RN50").apply(np.zeros(1024, np.float32))
    assert x.shape == (16, 512)


def test_tampered_download_is_refused_and_not_cached(server, shared, tmp_path):
    good = (shared / "transforms" / "dino-vit-base-p8" / "norm" / "transform.npz").read_bytes()
    bad = bytearray(good)
    bad[100] ^= 0xFF
    server.overrides["dino-vit-base-p8/norm/transform.npz"] = bytes(bad)
    with pytest.raises(glocal.GlocalError, match="sha256 mismatch for dino-vit-base-p8/norm.*not cached"):
        glocal.align(np.zeros(768, np.float32), "dino-vit-base-p8")
    assert not (tmp_path / "cache" / "dino-vit-base-p8" / "norm" / "transform.npz").exists()


def test_name_errors(server):
    with pytest.raises(glocal.GlocalError, match="not a published gLocal model .known: clip_RN50"):
        glocal.Transform.from_model("resnet19")
    with pytest.raises(glocal.GlocalError, match="HTTP 404"):
        glocal.Transform.from_model("resnet18", "layer4")
    with pytest.raises(glocal.GlocalError, match="--module must be a module name"):
        glocal.Transform.from_model("resnet18", "../x")
    with pytest.raises(glocal.GlocalError, match="first-upload applies only to dinov2-vit-base-p14"):
        glocal.Transform.from_model("resnet18", first_upload=True)
    with pytest.raises(ValueError, match="dtype 'f64'"):
        glocal.align(np.zeros(512, np.float32), "resnet18", dtype="f64")


def test_unreachable_server(tmp_path, monkeypatch):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    monkeypatch.setenv("GLOCAL_BASE_URL", f"http://127.0.0.1:{port}/transforms")
    monkeypatch.setenv("GLOCAL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(glocal.GlocalError, match="cannot download.*GLOCAL_BASE_URL"):
        glocal.align(np.zeros(768, np.float32), "dino-vit-base-p8")
