/*
 * Calling a JavaScript function held by a reference from a libuv callback (the addon's poll
 * handles): in a handle scope of its own, in the async context of its resource, an exception
 * thrown there reported as uncaught (napi_fatal_exception), as any callback's would be.
 * `arg` is passed when `argc` is 1; `argc` 0 passes nothing.
 */
#ifndef LBTA_JS_CALLBACK_H
#define LBTA_JS_CALLBACK_H
#include <node_api.h>
#include <stdint.h>

static inline void call_js(napi_env env, napi_async_context ctx, napi_ref fn_ref, size_t argc, int32_t arg) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  if (napi_get_reference_value(env, fn_ref, &fn) == napi_ok && fn != NULL && napi_get_global(env, &recv) == napi_ok &&
      (argc == 0 || napi_create_int32(env, arg, &argv[0]) == napi_ok)) {
    napi_status st = napi_make_callback(env, ctx, recv, fn, argc, argc == 0 ? NULL : argv, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

#endif
