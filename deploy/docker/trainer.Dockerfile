# syntax=docker/dockerfile:1
# The trainer (`triage train`, `triage azure stage ...`) and the monitors (`triage monitor`, which may submit Azure ML
# retraining): CPU-only torch first, then the train, monitor and azure extras.
#   docker build -f deploy/docker/trainer.Dockerfile -t tweet-triage-trainer .
# Training is a run-to-completion job (its exit code is its health); the monitor's compose service and container app
# declare their own health check. Credentials come from the environment at run time.
# alibi-detect (monitor extra) is BSL-1.1: see the README's Licensing before running the monitor in production.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
# torch first, from the CPU index: a later resolution that admits another torch would pull the CUDA build.
RUN pip install --index-url "${TORCH_INDEX}" "torch==$(sed -n 's/^torch==//p' constraints.txt)"
COPY core core
COPY stream stream
COPY api api
COPY dashboard dashboard
COPY app app
COPY training training
COPY monitoring monitoring
COPY deploy/tweet_triage deploy/tweet_triage
RUN pip install -c constraints.txt ".[train,monitor,azure]"

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /home/triage --create-home triage
COPY --from=build /opt/venv /opt/venv
# The source tree Azure ML pipeline jobs upload as their code (`triage azure submit-retrain` from a monitor).
COPY --from=build /src /opt/tweet-triage/src
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRIAGE_STACK__STATE_DIR=/home/triage/state \
    TRIAGE_DATA__DATA_DIR=/home/triage/data \
    TRIAGE_AZUREML__SOURCE_DIR=/opt/tweet-triage/src
USER 10001:10001
WORKDIR /home/triage
HEALTHCHECK NONE
ENTRYPOINT ["triage"]
CMD ["train", "--help"]
