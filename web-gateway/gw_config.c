/*
 * gw_config.c - the configuration table of concord-gateway.
 *
 * One row per key drives parsing, environment overrides, flags and --help
 * (cfg.h). Defaults here are the documented defaults of docs/GATEWAY.md.
 */
#include <stddef.h>
#include "gw_config.h"

#ifndef GW_DEFAULT_PORTAL_DIR
#define GW_DEFAULT_PORTAL_DIR "/usr/share/concord/portal"
#endif

#define K(sec, name, type, field, def, help, min, max) \
    { sec, name, type, offsetof(gw_settings, field), def, help, min, max }

const cfg_key gw_config_keys[] = {
    K("gateway", "listen", CFG_STR, listen, "127.0.0.1:8443",
      "address:port to serve HTTPS on (port 0 picks a free port)", 0, 0),
    K("gateway", "tls_cert", CFG_STR, tls_cert, NULL, "PEM certificate chain of the gateway", 0, 0),
    K("gateway", "tls_key", CFG_STR, tls_key, NULL, "PEM private key of the gateway", 0, 0),
    K("gateway", "tls_min_version", CFG_STR, tls_min_version, "1.3",
      "lowest TLS version: 1.3, or 1.2 (forward-secret AEAD ciphers only)", 0, 0),
    K("gateway", "http2", CFG_BOOL, http2, "false",
      "offer HTTP/2 (libh2o 2.2.5 lacks the HTTP/2 rapid-reset fix; keep off when exposed)", 0, 0),
    K("gateway", "portal_dir", CFG_STR, portal_dir, GW_DEFAULT_PORTAL_DIR,
      "folder with the portal's static files (read once at start)", 0, 0),
    K("gateway", "max_body", CFG_SIZE, max_body, "1M", "largest request body accepted", 1024,
      64L * 1024 * 1024),
    K("gateway", "drain_timeout", CFG_MS, drain_timeout_ms, "10s",
      "how long SIGTERM waits for requests in flight", 0, 3600000),
    K("gateway", "csrf_key", CFG_STR, csrf_key, NULL,
      "secret for CSRF tokens, shared by several gateways (default: random per process)", 0, 0),
    K("gateway", "origin", CFG_STR, origin, NULL,
      "public origin, e.g. https://concord.example.com (default: https:// + Host header)", 0, 0),
    K("gateway", "threads", CFG_INT, threads, "0",
      "event-loop threads, each with its own connections to concordd (0: the CPUs, at most 8)", 0,
      GW_MAX_THREADS),
    K("upstream", "address", CFG_STR, up_address, "127.0.0.1:7433", "concordd address:port", 0, 0),
    K("upstream", "ca_file", CFG_STR, up_ca_file, NULL,
      "CA that signed concordd's certificate (default: system store)", 0, 0),
    K("upstream", "server_name", CFG_STR, up_server_name, "localhost",
      "name checked against concordd's certificate", 0, 0),
    K("upstream", "connections", CFG_INT, up_connections, "4",
      "most TLS connections to concordd per event-loop thread; spares open under load", 1, 64),
    K("upstream", "call_timeout", CFG_MS, up_call_timeout_ms, "30s",
      "default deadline of a forwarded call", 100, 600000),
    K("log", "level", CFG_STR, log_level, "info", "debug, info, warn or error", 0, 0),
    {NULL, NULL, 0, 0, NULL, NULL, 0, 0},
};
