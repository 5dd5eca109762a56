/*
 * Shared by the Node floors (node_floor.c, udp_node_floor.c): one socket watched by a uv_poll_t
 * on the environment's own loop, one JS callback per wake-up (napi_make_callback: promise
 * continuations run before it returns, as for the real addon), and the exports table.
 * Header-only, static state: one connection per process.
 */
#pragma once
#include <node_api.h>
#include <stdlib.h>
#include <uv.h>

static uv_poll_t poll_handle;
static int polling;
static napi_env genv;
static napi_ref callback;
static napi_async_context async_ctx;

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* The one argument of a call, an integer in lo..hi: 1, or 0 (not one, or out of range). */
static int floor_int_arg(napi_env env, napi_callback_info info, int32_t lo, int32_t hi, int32_t *out) {
  size_t argc = 1;
  napi_value argv[1];
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 &&
         napi_get_value_int32(env, argv[0], out) == napi_ok && *out >= lo && *out <= hi;
}

/* Starts watching `sock` for reading on env's loop; `onAnswers` is the JS callback. 0 or -1. */
static int floor_watch(napi_env env, int sock, napi_value onAnswers, const char *name, uv_poll_cb on_readable) {
  napi_value resource, title;
  uv_loop_t *loop = NULL;
  if (napi_create_reference(env, onAnswers, 1, &callback) != napi_ok || napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &title) != napi_ok ||
      napi_async_init(env, resource, title, &async_ctx) != napi_ok || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init_socket(loop, &poll_handle, sock) != 0 || uv_poll_start(&poll_handle, UV_READABLE, on_readable) != 0) {
    return -1;
  }
  genv = env;
  polling = 1;
  return 0;
}

/* Stops the watch (the socket stays open). */
static void floor_unwatch(napi_env env) {
  if (!polling) return;
  uv_close((uv_handle_t *)&poll_handle, NULL);
  polling = 0;
  napi_delete_reference(env, callback);
  napi_async_destroy(env, async_ctx);
}

/* One JS call with n; an exception it throws is the process's uncaught exception (the run fails). */
static void floor_call_js(int32_t n) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(genv, &scope) != napi_ok) return;
  napi_value cb, recv_this, arg, err;
  if (napi_get_reference_value(genv, callback, &cb) == napi_ok && napi_get_global(genv, &recv_this) == napi_ok &&
      napi_create_int32(genv, n, &arg) == napi_ok &&
      napi_make_callback(genv, async_ctx, recv_this, cb, 1, &arg, NULL) != napi_ok &&
      napi_get_and_clear_last_exception(genv, &err) == napi_ok) {
    napi_fatal_exception(genv, err);
  }
  napi_close_handle_scope(genv, scope);
}

typedef struct {
  const char *name;
  napi_callback fn;
} floor_export;

static napi_value floor_exports(napi_env env, napi_value exports, const floor_export *list, size_t n) {
  napi_property_descriptor props[8];
  if (n > sizeof props / sizeof props[0]) abort();
  for (size_t i = 0; i < n; i++) {
    props[i] = (napi_property_descriptor){list[i].name, NULL, list[i].fn, NULL, NULL, NULL, napi_default, NULL};
  }
  napi_define_properties(env, exports, n, props);
  return exports;
}
