"""The browser apps the backend serves: the designer at /designer and the mobile client at /m.

Each is a Vite build (`make web`) of its own source folder into `<folder>/dist`; the build is not committed.
When it is missing, the app's URL answers a page that says how to build it instead of a bare 404. Every asset
comes from this server (the Content-Security-Policy allows no other origin), and index.html is never cached
so a new build is picked up at once, while hashed assets are cached for a year.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, send_from_directory

ROOT = Path(__file__).resolve().parent.parent

# 'unsafe-inline' styles: bpmn-js and Vue components set style attributes; scripts stay same-origin only. Images
# may also come from the object store's presigned links (MinIO's own origin), never from anywhere else.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:{images}; "
       "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'")


def _image_origins() -> str:
    from api.runtime import settings

    config = settings()
    if config.s3_public_url:
        return " " + config.s3_public_url
    if config.s3_endpoint:
        return f" {'https' if config.s3_secure else 'http'}://{config.s3_endpoint}"
    return ""


@dataclass(frozen=True)
class WebApp:
    name: str          # blueprint name
    url: str           # where it is served, e.g. /designer
    source: Path       # the npm project
    title: str

    @property
    def dist(self) -> Path:
        return self.source / "dist"


APPS = (
    WebApp("designer_web", "/designer", ROOT / "designer" / "web", "掌办 设计器 · Zhangban designer"),
    WebApp("mobile_web", "/m", ROOT / "api" / "web", "掌办 · Zhangban mobile"),
)

NOT_BUILT = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{title}</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>{title}</h1><p>前端尚未构建。The browser app has not been built yet.</p>
<p>Build it with <code>make web</code> (Node.js and npm; <code>make run</code> and <code>make test</code> do it too),
or by hand: <code>cd {source} &amp;&amp; npm ci &amp;&amp; npm run build</code>. Then reload this page.</p>
</body></html>"""


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP.format(images=_image_origins())
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def blueprint_for(web: WebApp) -> Blueprint:
    blp = Blueprint(web.name, __name__)

    def index():
        if not (web.dist / "index.html").is_file():
            source = web.source.relative_to(ROOT)
            return _secure(Response(NOT_BUILT.format(title=web.title, source=source), 503,
                                    mimetype="text/html"))
        response = send_from_directory(web.dist, "index.html", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return _secure(response)

    def asset(path: str):
        # Files of the build (hashed names under assets/, images); any other path is a client-side route.
        if (web.dist / path).is_file():
            return _secure(send_from_directory(web.dist, path, max_age=365 * 86400 if path.startswith("assets/")
                                               else 3600))
        return index()

    blp.add_url_rule(web.url, "index", index)
    blp.add_url_rule(f"{web.url}/", "index_slash", index)
    blp.add_url_rule(f"{web.url}/<path:path>", "asset", asset)
    return blp


def register(app) -> None:
    for web in APPS:
        app.register_blueprint(blueprint_for(web))
