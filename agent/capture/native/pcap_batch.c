/*
 * pcap_batch: live libpcap capture that hands packets to JavaScript a batch at a time, and
 * decides how often the kernel ring is read.
 *
 * Same libpcap settings as node_pcap (packet-mmap ring in block mode, snaplen, buffer size,
 * buffer timeout, kernel filter, pcap_stats). The capture fd is watched by libuv; on each
 * wake-up JavaScript calls dispatch() until it returns 0; each call copies the packets
 * libpcap has ready, as many as fit, into one preallocated buffer as records and returns
 * how many it wrote:
 *
 *   u32 ts_sec, u32 ts_usec, u32 caplen, u32 len   (host byte order)
 *   caplen bytes of packet, padded to a multiple of 4
 *
 * Hold-off: after a wake-up the fd is not watched for holdoff_ms, so the ring gathers
 * packets and the next wake-up hands over more of them. At light load a wake-up costs far
 * more than the packets it brings (at 20k pkt/s libpcap retires a block every 15-25 ms, and
 * the analysis then runs on cold caches): one wake-up per 200 ms instead of per block was
 * measured at about a quarter less CPU. The hold-off is skipped when, at the rate of the
 * last interval, it would fill more than a quarter of the ring, so a busy capture is read
 * at every block as before.
 *
 * The buffer is given once, at open(), and referenced for the session's whole life (a
 * buffer that JavaScript could collect while libpcap writes into it is a use-after-free).
 * Each pcap_dispatch() call is limited to as many packets as fit in the space left at
 * the snapshot length, so a record never overflows it and no packet is taken from the
 * ring that cannot be stored.
 *
 * close() releases the libpcap handle (socket and kernel ring) at once, idle or not
 * (node_pcap frees it only inside a dispatch that finds a packet).
 */
#include <node_api.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "js_owner.h"
#include "link_events.h"

#define RECORD_HEADER 16u
#define ALIGN4(n) (((n) + 3u) & ~3u)

typedef struct {
  js_owner_t owner; /* first: the struct is freed through it; its callback is onReadable */
  pcap_t *pcap;
  uv_poll_t poll;
  int poll_init;
  /* After each wake-up the fd is not watched for holdoff_ms (0: always watched). */
  uv_timer_t holdoff;
  uint64_t holdoff_ms;
  int holdoff_init;
  /* Kernel ring size, and what the ring took since the last wake-up (estimated): a hold-off
   * is skipped when, at that rate, it would fill more than a quarter of the ring. */
  uint64_t ring_bytes;
  uint64_t wake_bytes;
  uint64_t last_wake_ms;
  /* A pcap_dispatch() error met after packets were already stored: returned next time. */
  int pending_error;
  uint32_t snaplen;
  uint8_t *batch;
  size_t batch_len;
  size_t used;
  uint32_t count;
  napi_ref batch_ref;
  char error[PCAP_ERRBUF_SIZE + 64];
} session_t;

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), NULL, "pcap_batch: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static void close_session(session_t *s) {
  if (s->owner.closed) return;
  s->owner.closed = 1;
  if (s->poll_init) uv_poll_stop(&s->poll);
  if (s->holdoff_init) uv_timer_stop(&s->holdoff);
  if (s->pcap != NULL) {
    pcap_close(s->pcap);
    s->pcap = NULL;
  }
  owner_unbind(&s->owner);
  if (s->batch_ref != NULL) {
    napi_delete_reference(s->owner.env, s->batch_ref);
    s->batch_ref = NULL;
  }
  s->batch = NULL;
  s->batch_len = 0;
  if (s->poll_init) owner_close((uv_handle_t *)&s->poll);
  if (s->holdoff_init) owner_close((uv_handle_t *)&s->holdoff);
}

static void finalize_session(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  session_t *s = (session_t *)data;
  close_session(s);
  owner_finalized(&s->owner);
}

static void on_poll(uv_poll_t *handle, int status, int events);

/* The hold-off is over: watch the fd again (libuv reports it at once if packets wait). */
static void on_holdoff(uv_timer_t *timer) {
  session_t *s = (session_t *)timer->data;
  if (!s->owner.closed) uv_poll_start(&s->poll, UV_READABLE, on_poll);
}

/* libuv says the capture fd is readable (or failed): tell JavaScript, which dispatches. */
static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  session_t *s = (session_t *)handle->data;
  if (s->owner.closed) return;
  /* After an error libuv will not report this fd again; stop so it is not retried. */
  if (status < 0) uv_poll_stop(&s->poll);
  owner_call(&s->owner, 1, status);
  /*
   * Hold off: let the ring gather packets for a while before the next wake-up, so each
   * one hands over more of them (the kernel keeps them; the ring is sized for bursts).
   */
  uint64_t now = uv_now(uv_handle_get_loop((uv_handle_t *)handle));
  uint64_t elapsed = now > s->last_wake_ms ? now - s->last_wake_ms : 1;
  uint64_t expected = s->wake_bytes * s->holdoff_ms / elapsed;
  s->wake_bytes = 0;
  s->last_wake_ms = now;
  if (status >= 0 && s->holdoff_ms > 0 && !s->owner.closed && expected < s->ring_bytes / 4) {
    uv_poll_stop(&s->poll);
    uv_timer_start(&s->holdoff, on_holdoff, s->holdoff_ms, 0);
  }
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  session_t *s = (session_t *)user;
  uint32_t caplen = h->caplen < s->snaplen ? h->caplen : s->snaplen;
  size_t need = RECORD_HEADER + ALIGN4(caplen);
  /* Cannot happen: each pcap_dispatch() asks for no more packets than fit at the snaplen. */
  if (s->used + need > s->batch_len) return;
  uint32_t *hdr = (uint32_t *)(s->batch + s->used);
  hdr[0] = (uint32_t)h->ts.tv_sec;
  hdr[1] = (uint32_t)h->ts.tv_usec;
  hdr[2] = caplen;
  hdr[3] = h->len;
  memcpy(s->batch + s->used + RECORD_HEADER, bytes, caplen);
  s->used += need;
  s->count++;
}

/* The session handle that is a call's only argument (a TypeError thrown when it is not). */
static session_t *session_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "pcap_batch: expects a session handle");
    return NULL;
  }
  return (session_t *)data;
}

static int get_string(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) return 0;
  return len < cap - 1;
}

static napi_value set_prop_u32(napi_env env, napi_value obj, const char *key, uint32_t value) {
  napi_value v;
  if (napi_create_uint32(env, value, &v) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, key, v) != napi_ok) return NULL;
  return obj;
}

/*
 * open(device, filter, snaplen, bufferBytes, timeoutMs, holdoffMs, batch, onReadable)
 *   -> { handle, linkType }
 * Throws Error(libpcap's message) when the capture cannot be opened or the filter is bad.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) return throw_error(env, "pcap_batch.open: expects 8 arguments");
  char device[256];
  if (!get_string(env, argv[0], device, sizeof device)) return throw_error(env, "pcap_batch.open: bad device name");
  size_t filter_len = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &filter_len) != napi_ok) {
    return throw_error(env, "pcap_batch.open: filter must be a string");
  }
  char *filter = malloc(filter_len + 1);
  if (filter == NULL) return throw_error(env, "pcap_batch.open: out of memory");
  napi_get_value_string_utf8(env, argv[1], filter, filter_len + 1, &filter_len);
  int32_t snaplen = 0, buffer_bytes = 0, timeout_ms = 0, holdoff_ms = 0;
  if (napi_get_value_int32(env, argv[2], &snaplen) != napi_ok ||
      napi_get_value_int32(env, argv[3], &buffer_bytes) != napi_ok ||
      napi_get_value_int32(env, argv[4], &timeout_ms) != napi_ok ||
      napi_get_value_int32(env, argv[5], &holdoff_ms) != napi_ok || snaplen <= 0 || buffer_bytes <= 0 ||
      timeout_ms <= 0 || holdoff_ms < 0) {
    free(filter);
    return throw_error(env, "pcap_batch.open: snaplen, buffer size and timeout must be positive integers, the hold-off not negative");
  }
  bool is_buffer = false;
  void *batch = NULL;
  size_t batch_len = 0;
  if (napi_is_buffer(env, argv[6], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[6], &batch, &batch_len) != napi_ok) {
    free(filter);
    return throw_error(env, "pcap_batch.open: batch must be a Buffer");
  }
  if (((uintptr_t)batch & 7u) != 0 || batch_len < RECORD_HEADER + ALIGN4((uint32_t)snaplen)) {
    free(filter);
    return throw_error(env, "pcap_batch.open: batch must be 8-byte aligned and hold at least one packet at the snaplen");
  }
  napi_valuetype fn_type;
  if (napi_typeof(env, argv[7], &fn_type) != napi_ok || fn_type != napi_function) {
    free(filter);
    return throw_error(env, "pcap_batch.open: onReadable must be a function");
  }

  session_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    free(filter);
    return throw_error(env, "pcap_batch.open: out of memory");
  }
  s->owner.env = env;
  char errbuf[PCAP_ERRBUF_SIZE];
  errbuf[0] = '\0';
  pcap_t *p = pcap_create(device, errbuf);
  const char *failure = NULL;
  if (p == NULL) {
    failure = errbuf;
  } else if (pcap_set_snaplen(p, snaplen) != 0 || pcap_set_promisc(p, 0) != 0 ||
             pcap_set_buffer_size(p, buffer_bytes) != 0 || pcap_set_timeout(p, timeout_ms) != 0 ||
             pcap_set_immediate_mode(p, 0) != 0) {
    failure = "cannot set the capture options";
  } else {
    int rc = pcap_activate(p);
    if (rc < 0) {
      const char *e = pcap_geterr(p);
      snprintf(s->error, sizeof s->error, "%s", e != NULL && e[0] != '\0' ? e : pcap_statustostr(rc));
      failure = s->error;
    } else if (pcap_setnonblock(p, 1, errbuf) == -1) {
      failure = errbuf;
    } else if (filter_len > 0) {
      struct bpf_program prog;
      if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == -1) {
        snprintf(s->error, sizeof s->error, "%s", pcap_geterr(p));
        failure = s->error;
      } else {
        if (pcap_setfilter(p, &prog) == -1) {
          snprintf(s->error, sizeof s->error, "%s", pcap_geterr(p));
          failure = s->error;
        }
        pcap_freecode(&prog);
      }
    }
  }
  free(filter);
  if (failure != NULL) {
    napi_value err_msg, err;
    napi_create_string_utf8(env, failure, NAPI_AUTO_LENGTH, &err_msg);
    napi_create_error(env, NULL, err_msg, &err);
    if (p != NULL) pcap_close(p);
    free(s);
    napi_throw(env, err);
    return NULL;
  }
  s->pcap = p;
  int snap = pcap_snapshot(p);
  s->snaplen = (uint32_t)(snap > 0 ? snap : snaplen);
  s->batch = batch;
  s->batch_len = batch_len;

  napi_value handle;
  if (napi_create_external(env, s, finalize_session, NULL, &handle) != napi_ok) {
    pcap_close(p);
    free(s);
    return throw_error(env, "pcap_batch.open: cannot create the handle");
  }
  CHECK(env, napi_create_reference(env, argv[6], 1, &s->batch_ref));
  CHECK(env, owner_bind(&s->owner, argv[7], "lbta:pcapBatch"));

  int fd = pcap_get_selectable_fd(p);
  uv_loop_t *loop = NULL;
  if (fd < 0 || napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close_session(s);
    return throw_error(env, "pcap_batch.open: the capture has no pollable descriptor");
  }
  if (uv_poll_init(loop, &s->poll, fd) != 0) {
    close_session(s);
    return throw_error(env, "pcap_batch.open: cannot watch the capture descriptor");
  }
  s->poll_init = 1;
  owner_add(&s->owner, (uv_handle_t *)&s->poll);
  s->holdoff_ms = (uint64_t)holdoff_ms;
  s->ring_bytes = (uint64_t)buffer_bytes;
  s->last_wake_ms = uv_now(loop);
  if (uv_timer_init(loop, &s->holdoff) == 0) {
    s->holdoff_init = 1;
    owner_add(&s->owner, (uv_handle_t *)&s->holdoff);
  } else {
    s->holdoff_ms = 0;
  }
  if (uv_poll_start(&s->poll, UV_READABLE, on_poll) != 0) {
    close_session(s);
    return throw_error(env, "pcap_batch.open: cannot watch the capture descriptor");
  }

  napi_value result;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_set_named_property(env, result, "handle", handle));
  if (set_prop_u32(env, result, "linkType", (uint32_t)pcap_datalink(p)) == NULL) return NULL;
  return result;
}

/*
 * dispatch(handle) -> number of packets written into the batch buffer from its start
 * (0: none ready), -1 on a capture error (see error()), -2 once closed.
 */
static napi_value js_dispatch(napi_env env, napi_callback_info info) {
  napi_value out;
  session_t *s = session_arg(env, info);
  if (s == NULL) return NULL;
  int32_t result;
  if (s->owner.closed) {
    result = -2;
  } else if (s->pending_error != 0) {
    result = -1;
    s->pending_error = 0;
  } else {
    int failed = 0;
    s->used = 0;
    s->count = 0;
    const size_t worst = RECORD_HEADER + ALIGN4(s->snaplen);
    for (;;) {
      int room = (int)((s->batch_len - s->used) / worst);
      if (room <= 0) break;
      int r = pcap_dispatch(s->pcap, room, on_packet, (u_char *)s);
      if (r < 0) {
        snprintf(s->error, sizeof s->error, "%s", pcap_geterr(s->pcap));
        if (s->count == 0) {
          failed = 1;
        } else {
          s->pending_error = r;
        }
        break;
      }
      if (r == 0) break;
    }
    result = failed ? -1 : (int32_t)s->count;
    /* Each packet also took a tpacket3_hdr and alignment in the ring: about 64 bytes. */
    s->wake_bytes += s->used + 64u * s->count;
  }
  CHECK(env, napi_create_int32(env, result, &out));
  return out;
}

/* error(handle) -> libpcap's message for the last failed dispatch. */
static napi_value js_error(napi_env env, napi_callback_info info) {
  napi_value out;
  session_t *s = session_arg(env, info);
  if (s == NULL) return NULL;
  CHECK(env, napi_create_string_utf8(env, s->error, NAPI_AUTO_LENGTH, &out));
  return out;
}

/* stats(handle) -> { received, dropped, ifDropped } (pcap_stats); throws once closed or on error. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value out;
  session_t *s = session_arg(env, info);
  if (s == NULL) return NULL;
  if (s->owner.closed) return throw_error(env, "pcap_batch.stats: the session is closed");
  struct pcap_stat st;
  if (pcap_stats(s->pcap, &st) != 0) return throw_error(env, pcap_geterr(s->pcap));
  CHECK(env, napi_create_object(env, &out));
  if (set_prop_u32(env, out, "received", st.ps_recv) == NULL) return NULL;
  if (set_prop_u32(env, out, "dropped", st.ps_drop) == NULL) return NULL;
  if (set_prop_u32(env, out, "ifDropped", st.ps_ifdrop) == NULL) return NULL;
  return out;
}

/* close(handle): stop watching the fd and release the libpcap handle now. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  session_t *s = session_arg(env, info);
  if (s == NULL) return NULL;
  close_session(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"dispatch", NULL, js_dispatch, NULL, NULL, NULL, napi_default, NULL},
      {"error", NULL, js_error, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (!link_events_define(env, exports)) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
