# lb-traffic-analyzer container image.
#
#   docker build -t lb-traffic-analyzer .
#   docker run -d --name traffic-analyzer --net=host --cap-drop=ALL --cap-add=NET_RAW --read-only \
#     -v /var/log/lb-traffic-analyzer:/var/log/lb-traffic-analyzer lb-traffic-analyzer -i eth0
#
# Three stages:
#   build    compiler, libpcap-dev: compiles TypeScript, the native pcap/cap addons and
#            the agent's own batch capture addon, then drops the dev dependencies.
#   runtime  the same Node.js LTS slim base with only libpcap added, the app copied in,
#            the non-root user, and the node binary given cap_net_raw (setcap).
#   final    `FROM scratch` + one copy of the runtime's file system. setcap rewrites the
#            ~120 MB node binary; in a plain layered image the base layer would still hold
#            the original, and the image would carry node twice (+120 MB). Flattening
#            keeps one copy, and makes the runtime stage's removals real: npm, yarn,
#            corepack, headers, apt caches and translations the agent never uses.
#
# BASE_IMAGE: any Debian bookworm image with Node.js in /usr/local (the official image by
# default). Tests build one offline and pass it here (see test/helpers/docker.ts).
ARG BASE_IMAGE=node:24-bookworm-slim

FROM ${BASE_IMAGE} AS build
# node-gyp builds against the headers already in the Node.js image instead of downloading them.
ARG npm_config_nodedir=/usr/local
# python3, make, g++ and libpcap-dev: node-gyp builds `pcap`, `cap` and the batch addon against libpcap.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libpcap-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# npm 11 runs the addons' install scripts only because package.json lists them in allowScripts.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build-native.sh ./scripts/
COPY agent ./agent
# Only agent/ and the addon's build script are in the build context (.dockerignore):
# this compiles the agent alone, its addon into dist/agent/capture/native/.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/pcap/build/Release/obj.target node_modules/cap/build/Release/obj.target \
      node_modules/*/build/Release/.deps

FROM ${BASE_IMAGE} AS runtime
# libpcap0.8 is the only run-time library the addons need. libcap2-bin (setcap) is
# installed and purged in the same step, so no layer of the final image keeps it.
# cap_net_raw+ep on node: a non-root process gets CAP_NET_RAW from the file capability,
# which the kernel grants only while the container's bounding set has it (--cap-add=NET_RAW).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 libcap2-bin \
 && setcap cap_net_raw+ep /usr/local/bin/node \
 && getcap /usr/local/bin/node | grep -q cap_net_raw \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && rm -rf /usr/local/lib/node_modules /usr/local/include /opt/yarn* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/yarn /usr/local/bin/yarnpkg \
      /usr/local/bin/corepack /usr/local/etc/npmrc \
      /usr/share/doc /usr/share/man /usr/share/info /usr/share/locale \
 && groupadd --gid 10001 lbta \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin lbta \
 && mkdir -p /var/log/lb-traffic-analyzer \
 && chown 10001:10001 /var/log/lb-traffic-analyzer
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/agent ./dist/agent

FROM scratch
# COPY --from keeps owners, modes and the security.capability attribute of node.
COPY --from=runtime / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    LBTA_LOG_DIR=/var/log/lb-traffic-analyzer
WORKDIR /app
USER 10001:10001
# Events, the shipping cursor and health.json live here; the root file system can be read-only.
VOLUME ["/var/log/lb-traffic-analyzer"]
# The agent flushes the local log and CloudWatch on SIGTERM and exits 0.
STOPSIGNAL SIGTERM
# health.json is rewritten every 10 s; see agent/healthcheck.ts for what counts as stuck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "dist/agent/healthcheck.js"]
# The Node.js options the agent runs with: agent/node-flags.ts says why.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--v8-pool-size=1", "--no-maglev", "dist/agent/main.js"]
