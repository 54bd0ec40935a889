# The absence line as a container: `ivr serve` on 0.0.0.0:8000.
#
#   docker build -t absence-line .
#   docker run -p 8000:8000 \
#     -e IVR_DATABASE_URL=postgresql+psycopg://user:password@db.example.org/absence \
#     -e IVR_PUBLIC_BASE_URL=https://absence.example.org \
#     -e IVR_SECRET_KEY=... -e IVR_TWILIO_AUTH_TOKEN=... \
#     absence-line
#
# IVR_ENV is production here: the server refuses to start without real secrets and the
# public URL. With no IVR_DATABASE_URL it keeps a SQLite file in /data (mount a volume).
#
# `python3 dev.py install-check` runs the same install in a fresh virtual environment and
# places a call through it (and, where a Docker engine runs, builds this image and does the
# same in it).
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/ivr
# The dependencies alone, in a layer that only a change of pyproject.toml or
# constraints.txt rebuilds: a change to the code does not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
 && /opt/ivr/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt -r requirements.txt
# Then the line itself, with the command a user runs (it finds every dependency in place).
COPY README.md ./
COPY ivr ./ivr
RUN /opt/ivr/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /data ivr
COPY --from=build /opt/ivr /opt/ivr
ENV PATH=/opt/ivr/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    IVR_ENV=production \
    IVR_DATABASE_URL=sqlite:////data/ivr.db
USER ivr
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["ivr", "serve", "--host", "0.0.0.0", "--port", "8000"]
