/*
 * netns.c - doing a few syscalls inside another network namespace, on the calling thread only.
 *
 * setns(2) with CLONE_NEWNET moves just the calling thread, so Node's main thread can step into a
 * container's namespace, create a socket or a TAP there, and step back out: the descriptor stays
 * bound to the namespace it was created in, and keeps working from here. The detour lasts
 * microseconds and runs no JavaScript; every path out of it, error paths included, restores the
 * namespace saved on the way in.
 *
 * Namespaces are named by path: a bind mount made by `ip netns add` (/var/run/netns/NAME) or a
 * process's /proc/PID/ns/net.
 *
 * Syscalls: open(2) of the namespace file and of /proc/thread-self/ns/net, setns(2), close(2).
 */
#define _GNU_SOURCE
#include "netns.h"
#include "errors.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * netns_enter() - Save the thread's netns, then join the one at @path
 * @path:	Namespace file; NULL or "" to stay where we are
 * @saved_fd:	Set to a descriptor of the previous namespace, or -1 if we did not move
 * @sys:	Set to the name of the failing syscall on error (may be NULL)
 *
 * Return: 0 on success, -errno on failure (then the thread is where it was, *saved_fd is -1)
 * Syscalls: open, setns, close
 */
static int netns_enter(const char *path, int *saved_fd, const char **sys) {
  *saved_fd = -1;
  if (!path || !*path) return 0;

  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    if (sys) *sys = "open";
    return -errno;
  }
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    int e = errno;
    close(target);
    if (sys) *sys = "open";
    return -e;
  }
  /* CLONE_NEWNET makes the kernel check that @target really is a network namespace (EINVAL). */
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(target);
    close(self);
    if (sys) *sys = "setns";
    return -e;
  }
  close(target);
  *saved_fd = self;
  return 0;
}

/*
 * tsn_netns_enter() - Save the calling thread's netns, then join the one at @path
 * @path:	Namespace file (/var/run/netns/NAME, /proc/PID/ns/net); NULL or "" to stay
 * @saved_fd:	Set to a descriptor of the previous namespace (for tsn_netns_leave()), or -1
 *
 * Return: 0 on success, -errno on failure, in which case the thread has not moved
 * Syscalls: open, setns, close
 */
int tsn_netns_enter(const char *path, int *saved_fd) {
  return netns_enter(path, saved_fd, NULL);
}

/*
 * tsn_netns_leave() - Return to the namespace saved by tsn_netns_enter(), close its descriptor
 * @saved_fd:	From tsn_netns_enter(); -1 means we never moved, nothing to do
 *
 * Return: 0 on success, -errno if setns() failed (the thread is still in the other namespace)
 * Syscalls: setns, close
 */
int tsn_netns_leave(int saved_fd) {
  if (saved_fd < 0) return 0;
  int rc = setns(saved_fd, CLONE_NEWNET) < 0 ? -errno : 0;
  close(saved_fd);
  return rc;
}

/*
 * tsn_netns_enter_js() - tsn_netns_enter(), throwing on failure
 * @env:	Node-API environment
 * @path:	As for tsn_netns_enter()
 * @saved_fd:	As for tsn_netns_enter()
 *
 * Return: true if the thread is now in @path's namespace (or stayed, for no path); false with a
 *         pending error "open PATH: No such file or directory (ENOENT)" or "setns PATH: ..." otherwise
 * Syscalls: open, setns, close
 */
bool tsn_netns_enter_js(napi_env env, const char *path, int *saved_fd) {
  const char *sys = "setns";
  int rc = netns_enter(path, saved_fd, &sys);
  if (rc == 0) return true;
  char what[512];
  snprintf(what, sizeof what, "netns %s", path);
  tsn_throw_errno(env, sys, what, -rc);
  return false;
}

/*
 * tsn_netns_leave_js() - tsn_netns_leave(), aborting the process if the way back fails
 * @saved_fd:	From tsn_netns_enter_js()
 *
 * A thread that cannot return would run every later socket(), open() and JavaScript-driven syscall
 * of the main thread in a container's namespace, silently. That cannot be reported and carried on
 * from, so it is fatal. (setns() to a namespace we were just in does not fail in practice.)
 * Syscalls: setns, close
 */
void tsn_netns_leave_js(int saved_fd) {
  int rc = tsn_netns_leave(saved_fd);
  if (rc < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "setns back to the original network namespace failed: %s", strerror(-rc));
    napi_fatal_error("tsn_netns_leave", NAPI_AUTO_LENGTH, msg, NAPI_AUTO_LENGTH);
  }
}

/*
 * tsn_netns_path_arg() - Read an optional namespace path argument
 * @env:	Node-API environment
 * @v:		The argument: undefined or null (stay in this namespace), or a string path
 * @what:	Name of the function and argument, for the error message
 * @buf:	Filled with the path, "" for none
 * @size:	Size of @buf
 *
 * Return: true on success, false with a pending ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE
 */
bool tsn_netns_path_arg(napi_env env, napi_value v, const char *what, char *buf, size_t size) {
  buf[0] = '\0';
  napi_valuetype t = napi_undefined;
  if (v && napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined || t == napi_null) return true;
  char msg[160];
  if (t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a path string (e.g. /var/run/netns/NAME, /proc/PID/ns/net)", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  if (len >= size) {
    snprintf(msg, sizeof msg, "%s: path longer than %zu bytes", what, size - 1);
    napi_throw_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return false;
  if (strlen(buf) != len) {
    snprintf(msg, sizeof msg, "%s: path contains a NUL byte", what);
    napi_throw_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return false;
  }
  return true;
}
