# jwtseal serve in a small image: Debian's Python, jwtseal and its dependencies
# installed from wheels built beforehand, run as a non-root user with the data
# dir on a volume. ./scripts/container builds the base (Debian bookworm with
# python3, made with debootstrap) under the name FROM uses, then this image.
# Build context: a folder holding wheels/ (jwtseal's wheel, the wheels of its
# dependencies and of the server extra's, and pip's), as scripts/container prepares it.

FROM jwtseal-base:bookworm AS build
COPY wheels/ /wheels/
# pip runs from its own wheel, so neither pip nor a venv is in the final image.
RUN python3 "$(echo /wheels/pip-*.whl)/pip" install --quiet --no-index --find-links /wheels \
        --no-compile --target /opt/jwtseal 'jwtseal[server]' \
    && rm -rf /opt/jwtseal/bin \
    && python3 -m compileall -q -j 0 /opt/jwtseal

FROM jwtseal-base:bookworm
COPY --from=build /opt/jwtseal /opt/jwtseal
RUN useradd --system --uid 10001 --home-dir /var/lib/jwtseal --shell /usr/sbin/nologin jwtseal \
    && install -d -o jwtseal -g jwtseal -m 0700 /var/lib/jwtseal
ENV PYTHONPATH=/opt/jwtseal \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    JWTSEAL_DATA_DIR=/var/lib/jwtseal
USER jwtseal
VOLUME ["/var/lib/jwtseal"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# Exec form: the server is PID 1 and gets SIGTERM itself (it stops accepting,
# finishes what it holds and exits). Arguments given to `docker run` after the
# image name go to `jwtseal serve` (e.g. --workers 2); settings come from the
# environment (JWTSEAL_ISSUER, JWTSEAL_API_KEYS, ...).
ENTRYPOINT ["python3", "-m", "jwtseal", "serve", "--host", "0.0.0.0", "--port", "8000"]
