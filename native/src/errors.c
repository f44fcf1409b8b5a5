/* errors.c - building Error objects with errno metadata. */
#define _GNU_SOURCE
#include "errors.h"
#include <stdio.h>
#include <string.h>

/* Node-style error: message, .code = errno name, .errno, .syscall. strerrorname_np is glibc >= 2.32. */
void tsn_throw_errno(napi_env env, const char *syscall, const char *what, int err) {
  const char *name = strerrorname_np(err);
  if (!name) name = "EUNKNOWN";
  char msg[256];
  snprintf(msg, sizeof msg, "%s%s%s: %s (%s)", syscall, what ? " " : "", what ? what : "", strerror(err), name);
  napi_value jmsg, jcode, jerrno, jsys, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jcode);
  napi_create_error(env, jcode, jmsg, &error);
  napi_create_int32(env, err, &jerrno);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsys);
  napi_set_named_property(env, error, "errno", jerrno);
  napi_set_named_property(env, error, "syscall", jsys);
  napi_throw(env, error);
}

void tsn_throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
}
