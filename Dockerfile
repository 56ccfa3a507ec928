# Production image: the API under gunicorn. Configuration comes from ZHANGBAN_* variables (see README).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PROMETHEUS_MULTIPROC_DIR=/tmp/zhangban-metrics
WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY api ./api
COPY core ./core
COPY designer ./designer
COPY forms ./forms
COPY storage ./storage
COPY workflows ./workflows
COPY wsgi.py ./
RUN pip install --no-cache-dir . && useradd --system --uid 10001 zhangban
USER zhangban
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--graceful-timeout", "20", "--no-control-socket", \
     "--config", "python:api.gunicorn_conf", "wsgi:app"]
