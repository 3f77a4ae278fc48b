# syntax=docker/dockerfile:1
# The relief dashboard (`triage dashboard`, Streamlit): core + dashboard extra. Build from the repository root:
#   docker build -f deploy/docker/dashboard.Dockerfile -t tweet-triage-dashboard .
# The API URL and key come from TRIAGE_DASHBOARD__* variables at run time; none is baked in.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY core core
COPY stream stream
COPY api api
COPY dashboard dashboard
COPY app app
COPY training training
COPY monitoring monitoring
COPY deploy/tweet_triage deploy/tweet_triage
RUN pip install -c constraints.txt ".[dashboard]"

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /home/triage --create-home triage
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRIAGE_STACK__STATE_DIR=/home/triage/state \
    TRIAGE_DASHBOARD__HOST=0.0.0.0 \
    TRIAGE_DASHBOARD__PORT=18501 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
USER 10001:10001
WORKDIR /home/triage
EXPOSE 18501
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18501/_stcore/health', timeout=4)"]
ENTRYPOINT ["triage"]
CMD ["dashboard"]
