/*
 * What the addon's two native objects (a capture session, a link watcher) share: a JavaScript
 * handle (an external), a JavaScript callback called from libuv, and libuv handles that close
 * asynchronously. Each object's struct begins with a js_owner_t, and is freed when both have
 * let go of it: JavaScript's handle finalized and every libuv handle closed (a handle's close
 * callback runs after uv_close returns, and the struct must outlive it).
 *
 *   owner_bind(o, fn, name)    the callback and its async context (napi_ok or the failing status)
 *   owner_add(o, h)            a libuv handle initialised: counted, h->data = o
 *   owner_close(h)             uv_close of a handle owner_add counted
 *   owner_unbind(o)            releases the callback and its context (when the object closes)
 *   owner_call(o, argc, arg)   calls the callback (`arg` passed when `argc` is 1)
 *   owner_finalized(o)         the external's finalizer: frees once no libuv handle is open
 *
 * owner_call runs the function in a handle scope of its own, in the async context of its
 * resource; an exception thrown there is reported as uncaught (napi_fatal_exception), as any
 * callback's would be.
 */
#ifndef LBTA_JS_OWNER_H
#define LBTA_JS_OWNER_H
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

typedef struct {
  napi_env env;
  /* The object was closed (its resources released); JavaScript's handle may still exist. */
  int closed;
  /* JavaScript's handle was finalized. */
  int js_gone;
  /* libuv handles initialised and not yet closed. */
  int open_handles;
  napi_ref callback_ref;
  napi_async_context async_ctx;
} js_owner_t;

static inline napi_status owner_bind(js_owner_t *o, napi_value fn, const char *resource) {
  napi_value name;
  napi_status st = napi_create_reference(o->env, fn, 1, &o->callback_ref);
  if (st == napi_ok) st = napi_create_string_utf8(o->env, resource, NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok) st = napi_async_init(o->env, NULL, name, &o->async_ctx);
  return st;
}

static inline void owner_unbind(js_owner_t *o) {
  if (o->callback_ref != NULL) {
    napi_delete_reference(o->env, o->callback_ref);
    o->callback_ref = NULL;
  }
  if (o->async_ctx != NULL) {
    napi_async_destroy(o->env, o->async_ctx);
    o->async_ctx = NULL;
  }
}

static inline void owner_maybe_free(js_owner_t *o) {
  if (o->js_gone && o->open_handles == 0) free(o);
}

static inline void owner_add(js_owner_t *o, uv_handle_t *h) {
  h->data = o;
  o->open_handles++;
}

static void owner_uv_closed(uv_handle_t *h) {
  js_owner_t *o = (js_owner_t *)h->data;
  o->open_handles--;
  owner_maybe_free(o);
}

static inline void owner_close(uv_handle_t *h) {
  uv_close(h, owner_uv_closed);
}

static inline void owner_finalized(js_owner_t *o) {
  o->js_gone = 1;
  owner_maybe_free(o);
}

static inline void owner_call(js_owner_t *o, size_t argc, int32_t arg) {
  if (o->callback_ref == NULL) return;
  napi_env env = o->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  if (napi_get_reference_value(env, o->callback_ref, &fn) == napi_ok && fn != NULL && napi_get_global(env, &recv) == napi_ok &&
      (argc == 0 || napi_create_int32(env, arg, &argv[0]) == napi_ok)) {
    napi_status st = napi_make_callback(env, o->async_ctx, recv, fn, argc, argc == 0 ? NULL : argv, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

#endif
