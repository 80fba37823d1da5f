# gatehouse: Deno on Debian, with Debian's Chromium for the browser-automation sessions.
# Checked against docs.deno.com/runtime/reference/docker and fly.io/docs/reference/configuration; no Docker
# engine was available where this was written, so the image was not built there (see README "Deploying").
ARG DENO_VERSION=2.9.6
FROM denoland/deno:debian-${DENO_VERSION}

# Chromium from Debian (never a downloaded browser build): its headless shell, the engine without the browser
# UI layer (about a third of the CPU and memory per session, bench/burst.ts); fonts so portals render readable text.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium-headless-shell fonts-liberation ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
# Production dependencies only: what src/main.ts imports (not the test and client-generation tools).
RUN deno install --frozen --entrypoint src/main.ts \
 # the pre-migrated embedded database an empty /data starts from (db/snapshot.ts)
 && deno run --allow-read=/app --allow-write=/app/db --allow-env db/make_snapshot.ts \
 && mkdir -p /data \
 && chown -R deno:deno /data

# The demo portal is a development aid: off in the image (it is off by default in production anyway).
ENV ENV=production PORT=8000 DATA_DIR=/data CHROME_PATH=/usr/lib/chromium/chromium-headless-shell DEMO_PORTAL=false
# /app stays root-owned and read-only to the server; it writes only /data (PGlite, secrets) and /tmp
# (Chromium profiles), and runs only Chromium.
USER deno
EXPOSE 8000
# SIGTERM triggers the graceful shutdown in src/main.ts.
STOPSIGNAL SIGTERM
CMD ["deno", "run", "--allow-net", "--allow-env", "--allow-sys", \
     "--allow-read=/app,/data,/tmp,/usr/lib/chromium", "--allow-write=/data,/tmp", \
     "--allow-run=/usr/lib/chromium/chromium-headless-shell", "src/main.ts"]
