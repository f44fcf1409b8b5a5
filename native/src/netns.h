/* netns.h - running a few syscalls of the calling thread inside another network namespace. */
#ifndef TSN_NETNS_H
#define TSN_NETNS_H
#include <node_api.h>
#include <stdbool.h>

/* Enter the netns at @path (NULL/"" = stay); *saved_fd = the previous one, or -1. 0, or -errno. */
int tsn_netns_enter(const char *path, int *saved_fd);
/* Go back to the netns saved by tsn_netns_enter() and close it; saved_fd -1 is a no-op. 0, or -errno. */
int tsn_netns_leave(int saved_fd);

/* tsn_netns_enter(), throwing a JS error (code = errno name, naming @path) on failure. */
bool tsn_netns_enter_js(napi_env env, const char *path, int *saved_fd);
/* tsn_netns_leave(); a failure is fatal (the thread would stay in the wrong namespace). */
void tsn_netns_leave_js(int saved_fd);

/* Read an optional netns path argument: undefined/null -> "" (stay), string -> copied to @buf.
 * Returns false with a pending ERR_INVALID_ARG_TYPE/ERR_INVALID_ARG_VALUE naming @what otherwise. */
bool tsn_netns_path_arg(napi_env env, napi_value v, const char *what, char *buf, size_t size);
#endif
