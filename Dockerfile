# One image for every process of the service (the command differs); see docker-compose.yml.
# Every package and module pyproject.toml lists is copied (tests/test_deploy.py checks it).
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY settings.py connections.py codec.py claim_service.py panel_service.py webhook_service.py work_queue.py documents_service.py reconciler.py worker.py starter.py dispatcher.py ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY store ./store
COPY api ./api
COPY console ./console
COPY people ./people
COPY cli ./cli
COPY delivery ./delivery
COPY devstack ./devstack
COPY bench ./bench
COPY observability ./observability
COPY chaos ./chaos
COPY deploy/__init__.py deploy/certs.py deploy/scrape_key.py ./deploy/
# The scrape-key volume takes this directory's owner when first mounted: the unprivileged user
# writes the key into it, and Prometheus (also `nobody`) reads it.
RUN pip install --no-cache-dir . \
    && mkdir -p /run/ime-scrape \
    && chown nobody:nogroup /run/ime-scrape
USER nobody
CMD ["python", "worker.py"]
