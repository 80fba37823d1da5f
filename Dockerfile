# gatehouse: Deno on Debian, with Debian's Chromium for the browser-automation sessions.
ARG DENO_VERSION=2.9.6
FROM denoland/deno:debian-${DENO_VERSION}

# Chromium from Debian (never a downloaded browser build); fonts so portals render readable text.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-liberation ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN deno cache src/main.ts && mkdir -p /data && chown -R deno:deno /data /app

# The demo portal is a development aid: off in the image (it is off by default in production anyway).
ENV ENV=production PORT=8000 DATA_DIR=/data CHROME_PATH=/usr/bin/chromium DEMO_PORTAL=false
USER deno
EXPOSE 8000
# SIGTERM triggers the graceful shutdown in src/main.ts.
STOPSIGNAL SIGTERM
CMD ["deno", "run", "-A", "src/main.ts"]
