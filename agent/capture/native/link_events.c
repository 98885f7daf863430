/*
 * link_events: the kernel's word that a network interface changed (rtnetlink, RTMGRP_LINK),
 * so the capture watchdog checks the link when something happened instead of polling sysfs
 * four times a second.
 *
 *   watchLinks(onChange) -> handle      onChange() after each wake-up that read link messages
 *   unwatchLinks(handle)                idempotent; the socket is closed at once
 *
 * The messages are not parsed: any of them (an interface created, deleted, taken down or up, a
 * carrier change, on any interface) calls onChange once per wake-up, and the watchdog reads
 * the state of its own interface then. A lost notification (ENOBUFS: the socket's queue
 * overflowed) calls onChange too. Subscribing to link notifications needs no privilege.
 *
 * The poll handle is unreferenced: a watcher alone does not keep the process alive.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "js_owner.h"
#include "link_events.h"

typedef struct {
  js_owner_t owner; /* first: the struct is freed through it */
  int fd;
  uv_poll_t poll;
  int poll_init;
} watcher_t;

static void watcher_close(watcher_t *w) {
  if (w->owner.closed) return;
  w->owner.closed = 1;
  if (w->poll_init) {
    uv_poll_stop(&w->poll);
    owner_close((uv_handle_t *)&w->poll);
  }
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
  }
  owner_unbind(&w->owner);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher_t *w = (watcher_t *)data;
  watcher_close(w);
  owner_finalized(&w->owner);
}

static void on_links(uv_poll_t *handle, int status, int events) {
  (void)events;
  watcher_t *w = (watcher_t *)handle->data;
  if (w->owner.closed) return;
  int changed = status < 0;
  if (status < 0) uv_poll_stop(&w->poll);
  /* Read every queued message: one call to JavaScript per wake-up, however many came. */
  for (;;) {
    char buf[8192];
    ssize_t n = recv(w->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) { changed = 1; continue; }
    if (n < 0 && errno == EINTR) continue;
    /* ENOBUFS: messages were lost; the state may have changed in between. */
    if (n < 0 && errno == ENOBUFS) { changed = 1; continue; }
    break;
  }
  if (changed) owner_call(&w->owner, 0, 0);
}

static napi_value link_throw(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value js_watch_links(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) {
    return link_throw(env, "pcap_batch.watchLinks: expects onChange");
  }
  napi_valuetype t;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    return link_throw(env, "pcap_batch.watchLinks: onChange must be a function");
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return link_throw(env, strerror(errno));
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int e = errno;
    close(fd);
    return link_throw(env, strerror(e));
  }
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(fd);
    return link_throw(env, "pcap_batch.watchLinks: no event loop");
  }
  watcher_t *w = calloc(1, sizeof *w);
  if (w == NULL) {
    close(fd);
    return link_throw(env, "pcap_batch.watchLinks: out of memory");
  }
  w->owner.env = env;
  w->fd = fd;
  napi_value handle;
  if (napi_create_external(env, w, watcher_finalize, NULL, &handle) != napi_ok) {
    close(fd);
    free(w);
    return link_throw(env, "pcap_batch.watchLinks: cannot create the handle");
  }
  if (owner_bind(&w->owner, argv[0], "lbta:linkEvents") != napi_ok) {
    watcher_close(w);
    return link_throw(env, "pcap_batch.watchLinks: N-API call failed");
  }
  if (uv_poll_init(loop, &w->poll, fd) != 0) {
    watcher_close(w);
    return link_throw(env, "pcap_batch.watchLinks: cannot watch the netlink socket");
  }
  w->poll_init = 1;
  owner_add(&w->owner, (uv_handle_t *)&w->poll);
  uv_unref((uv_handle_t *)&w->poll);
  if (uv_poll_start(&w->poll, UV_READABLE, on_links) != 0) {
    watcher_close(w);
    return link_throw(env, "pcap_batch.watchLinks: cannot watch the netlink socket");
  }
  return handle;
}

static napi_value js_unwatch_links(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "pcap_batch.unwatchLinks: expects a watcher handle");
    return NULL;
  }
  watcher_close((watcher_t *)data);
  return NULL;
}

int link_events_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"watchLinks", NULL, js_watch_links, NULL, NULL, NULL, napi_default, NULL},
      {"unwatchLinks", NULL, js_unwatch_links, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
