/* errors.h - JS errors that carry errno, code and syscall, like Node's own. */
#ifndef TSN_ERRORS_H
#define TSN_ERRORS_H
#include <node_api.h>

/* Throw an Error "SYSCALL NAME: strerror (CODE)" with .code ('EPERM'), .errno (number), .syscall. */
void tsn_throw_errno(napi_env env, const char *syscall, const char *what, int err);
/* Throw a TypeError/RangeError-like Error with .code (e.g. 'ERR_INVALID_ARG'). */
void tsn_throw_code(napi_env env, const char *code, const char *msg);

/* Bail out of a napi_callback when a napi_* call fails (the pending exception, if any, stays). */
#define TSN_CALL(env, call)                                   \
  do {                                                        \
    if ((call) != napi_ok) {                                  \
      bool pending_ = false;                                  \
      napi_is_exception_pending((env), &pending_);            \
      if (!pending_) tsn_throw_code((env), "ERR_NAPI", #call); \
      return NULL;                                            \
    }                                                         \
  } while (0)

#endif
