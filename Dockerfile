# Production image: the API under gunicorn (and `zhangban worker` from the same image). Configuration comes from
# ZHANGBAN_* variables (see README). tests/test_image_start.py starts it as this file says, without Docker.

# The browser apps (/designer, /m): built here, only their dist/ reaches the image.
FROM node:20-slim AS web
WORKDIR /build
COPY designer/web ./designer/web
COPY api/web ./api/web
RUN for app in designer/web api/web; do \
      (cd "$app" && npm ci --no-audit --no-fund --loglevel=error && npm run build) || exit 1; \
    done

FROM python:3.11-slim
# The data dir (audit spool, and the files of the embedded default) is a volume the image's user owns; the code
# under /app stays read-only to it.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PROMETHEUS_MULTIPROC_DIR=/tmp/zhangban-metrics \
    ZHANGBAN_DATA_DIR=/var/lib/zhangban
WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY api ./api
COPY core ./core
COPY designer ./designer
COPY forms ./forms
COPY storage ./storage
COPY workflows ./workflows
COPY wsgi.py ./
COPY --from=web /build/designer/web/dist ./designer/web/dist
COPY --from=web /build/api/web/dist ./api/web/dist
RUN pip install --no-cache-dir . && useradd --system --uid 10001 zhangban \
    && mkdir -p /var/lib/zhangban && chown zhangban /var/lib/zhangban
USER zhangban
VOLUME /var/lib/zhangban
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--graceful-timeout", "20", "--no-control-socket", \
     "--config", "python:api.gunicorn_conf", "wsgi:app"]
