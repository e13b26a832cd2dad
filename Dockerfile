# Wren Mail on Node 24 LTS.
FROM node:24-bookworm-slim AS build
WORKDIR /opt/wrenmail
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .

FROM node:24-bookworm-slim
WORKDIR /opt/wrenmail
COPY --from=build /opt/wrenmail /opt/wrenmail
ENV NODE_ENV=production WRENMAIL_DATA_DIR=/var/lib/wrenmail
RUN mkdir -p /var/lib/wrenmail && chown node:node /var/lib/wrenmail && chmod 0700 /var/lib/wrenmail
USER node
VOLUME ["/var/lib/wrenmail"]
# SMTP 25/587/465, IMAP 143/993, POP3 110/995, HTTP API 8080. In the container the process binds the
# standard ports only if given CAP_NET_BIND_SERVICE (docker run --cap-add NET_BIND_SERVICE);
# otherwise it moves them up by server.unprivileged_port_offset (25 → 10025) and says so in the log.
# API keys over plain HTTP are accepted only from loopback peers: publish HTTPS (WRENMAIL_HTTP_TLS_LISTEN),
# or name the Docker network in WRENMAIL_HTTP_PLAIN_CREDENTIALS_FROM (e.g. 172.17.0.0/16).
EXPOSE 25 587 465 143 993 110 995 8080
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "src/main.ts"]
CMD ["serve", "--config", "config/default.toml"]
