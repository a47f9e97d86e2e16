# One image for the worker and the API (the command differs); see docker-compose.yml.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY settings.py connections.py codec.py claim_service.py worker.py starter.py dispatcher.py ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY store ./store
COPY api ./api
COPY cli ./cli
COPY delivery ./delivery
COPY devstack ./devstack
RUN pip install --no-cache-dir .
USER nobody
CMD ["python", "worker.py"]
