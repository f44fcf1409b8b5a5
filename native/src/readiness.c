/*
 * readiness.c - waking JavaScript once per event-loop turn with every port that has frames waiting.
 *
 * Node cannot watch a raw TAP descriptor (net.Socket rejects it), so each port gets a libuv poll handle.
 * A poll callback only notes the port as ready; a check handle, which libuv runs right after the poll
 * phase, then makes one call into JavaScript with the whole ready list in a shared Int32Array. JavaScript
 * drains each port in bursts; polls are level-triggered, so a port it left non-empty (burst budget spent)
 * is reported again on the next turn. Never one JS call per packet, nor per port.
 *
 * The poll handles keep the event loop alive while ports are open; the check handle does not.
 *
 * The ready list is kept in C (g_ready) and only copied into the JavaScript array for the call: that
 * array is writable from JavaScript at any time (another I/O callback in the same poll phase may run
 * between our poll callbacks and the check), so nothing is ever indexed by a value read back from it.
 *
 * Busy-poll (setBusyPoll, off by default): after a call that had frames, the check keeps asking a
 * second epoll set of the same descriptors (epoll_wait with no timeout) for up to the budget, and calls
 * JavaScript again at once with what turned ready, as Open vSwitch's PMD threads and the kernel's
 * busy_poll do: the answer to a frame just sent (an ACK, an echo reply) is taken without the daemon
 * going idle and being woken again. Adaptive: each hit restarts the budget, a turn ends after
 * TSN_BUSY_TURN_NS at most so timers and the control API still run, and a spin that found nothing
 * halves the next turn's budget (doubled back by a hit) so an idle switch stops spinning.
 *
 * Syscalls: epoll_ctl (through libuv's poll handles, and on the busy-poll set), epoll_wait,
 * clock_gettime.
 */
#include "readiness.h"
#include "errors.h"
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* The longest one check turn may spin before libuv runs its timers and other handles again. */
#define TSN_BUSY_TURN_NS 1000000LL
#define TSN_BUSY_EVENTS 256

typedef struct {
  uv_poll_t handle;
  int32_t port;
  int fd;
} port_poll;

static napi_env g_env;
static napi_ref g_handler, g_receiver, g_ready_ref;
static napi_async_context g_actx;
static int32_t *g_ready_js; /* the JS array the ready list is copied into for the call (JS-writable) */
static int32_t *g_ready;    /* the ready list itself, C-owned: port ids this turn */
static size_t g_ready_cap;  /* = max port id + 1 */
static port_poll **g_polls; /* by port id */
static uint8_t *g_flag;     /* port already in the ready list this turn */
static int32_t g_nready;
static uv_check_t g_check;
static bool g_check_started;
static int g_busy_epfd = -1;  /* the busy-poll set: every polled descriptor, level-triggered */
static int64_t g_busy_ns;     /* configured budget; 0 = off */
static int64_t g_busy_cur_ns; /* this turn's budget (adaptive, <= g_busy_ns) */
static double g_busy_spins, g_busy_hits; /* counters for stats: empty epoll_waits, calls made from a spin */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One call into JavaScript with the ready list; false when JavaScript threw (the spin stops). */
static bool call_ready(void) {
  int32_t n = g_nready;
  for (int32_t i = 0; i < n; i++) {
    g_flag[g_ready[i]] = 0;
    g_ready_js[i] = g_ready[i];
  }
  g_nready = 0;
  napi_handle_scope scope;
  napi_open_handle_scope(g_env, &scope);
  napi_value fn, recv, argv[1], result;
  napi_get_reference_value(g_env, g_handler, &fn);
  napi_get_reference_value(g_env, g_receiver, &recv);
  napi_create_int32(g_env, n, &argv[0]);
  napi_status s = napi_make_callback(g_env, g_actx, recv, fn, 1, argv, &result);
  bool ok = true;
  if (s == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(g_env, &err);
    napi_fatal_exception(g_env, err);
    ok = false;
  }
  napi_close_handle_scope(g_env, scope);
  return ok;
}

/* Note the busy-poll set's ready descriptors in the ready list; returns how many were added. */
static int32_t busy_collect(void) {
  struct epoll_event ev[TSN_BUSY_EVENTS];
  int n = epoll_wait(g_busy_epfd, ev, TSN_BUSY_EVENTS, 0);
  int32_t added = 0;
  for (int i = 0; i < n; i++) {
    int32_t port = (int32_t)ev[i].data.u32;
    /* A port stopped (or its id reused) since the event was queued is skipped, never reported. */
    if (port < 0 || (size_t)port >= g_ready_cap || !g_polls[port] || g_flag[port]) continue;
    g_flag[port] = 1;
    g_ready[g_nready++] = port;
    added++;
  }
  return added;
}

static void busy_poll(void) {
  int64_t start = now_ns();
  int64_t deadline = start + g_busy_cur_ns;
  int64_t end = start + TSN_BUSY_TURN_NS;
  bool hit = false;
  for (;;) {
    int64_t t = now_ns();
    if (t >= deadline || t >= end || !g_handler) break;
    if (busy_collect() == 0) {
      g_busy_spins++;
      /* Give the CPU to whatever is runnable here (the peer that will answer, softirq work): on a
       * machine with few cores a pure spin delays the very reply it waits for. */
      sched_yield();
      continue;
    }
    hit = true;
    g_busy_hits++;
    if (!call_ready()) return;
    deadline = now_ns() + g_busy_cur_ns;
  }
  /* Adapt: a turn whose spin found nothing halves the next budget; one that found frames restores it. */
  if (hit) g_busy_cur_ns = g_busy_ns;
  else if (g_busy_cur_ns > 1000) g_busy_cur_ns /= 2;
}

static void on_check(uv_check_t *h) {
  (void)h;
  if (g_nready == 0 || !g_handler) return;
  if (!call_ready()) return;
  if (g_busy_ns > 0 && g_busy_epfd >= 0) busy_poll();
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  port_poll *pp = (port_poll *)h;
  int32_t port = pp->port;
  if (!g_flag[port] && (size_t)g_nready < g_ready_cap) {
    g_flag[port] = 1;
    g_ready[g_nready++] = port;
  }
}

/*
 * setReadyHandler(fn: (count) => void, ready: Int32Array): fn is called with the number of ready port ids
 * written to the front of ready. Port ids must be < ready.length. Call once per process.
 */
static napi_value set_ready_handler(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type t;
  size_t len;
  void *data;
  if (argc < 2 || napi_get_typedarray_info(env, argv[1], &t, &len, &data, NULL, NULL) != napi_ok || t != napi_int32_array || len == 0) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "setReadyHandler(fn, ready: Int32Array)");
    return NULL;
  }
  if (g_handler) {
    tsn_throw_code(env, "ERR_INVALID_STATE", "setReadyHandler: a handler is already set");
    return NULL;
  }
  int32_t *ready = calloc(len, sizeof *ready);
  port_poll **polls = calloc(len, sizeof *polls);
  uint8_t *flag = calloc(len, 1);
  if (!ready || !polls || !flag) {
    free(ready);
    free(polls);
    free(flag);
    tsn_throw_code(env, "ENOMEM", "setReadyHandler: out of memory");
    return NULL;
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    int e = errno;
    free(ready);
    free(polls);
    free(flag);
    tsn_throw_errno(env, "epoll_create1", "setReadyHandler: the busy-poll set", e);
    return NULL;
  }
  g_busy_epfd = epfd;
  g_env = env;
  napi_value recv, name;
  TSN_CALL(env, napi_create_object(env, &recv)); /* napi_make_callback wants an object as receiver */
  TSN_CALL(env, napi_create_reference(env, argv[0], 1, &g_handler));
  TSN_CALL(env, napi_create_reference(env, recv, 1, &g_receiver));
  TSN_CALL(env, napi_create_reference(env, argv[1], 1, &g_ready_ref));
  TSN_CALL(env, napi_create_string_utf8(env, "tsnet-switch:ready", NAPI_AUTO_LENGTH, &name));
  TSN_CALL(env, napi_async_init(env, NULL, name, &g_actx));
  g_ready_js = data;
  g_ready = ready;
  g_ready_cap = len;
  g_polls = polls;
  g_flag = flag;
  uv_loop_t *loop;
  TSN_CALL(env, napi_get_uv_event_loop(env, &loop));
  if (!g_check_started) {
    uv_check_init(loop, &g_check);
    uv_check_start(&g_check, on_check);
    uv_unref((uv_handle_t *)&g_check);
    g_check_started = true;
  }
  return NULL;
}

static void free_poll(uv_handle_t *h) { free(h); }

/*
 * pollStart(fd, portId): report portId whenever fd is readable. A descriptor libuv cannot poll (a
 * regular file: EPERM) throws with its errno. Once uv_poll_init has succeeded the handle is in the
 * loop's handle queue, so a failure after it closes the handle (uv_close, freed in its callback),
 * never frees it in place. Syscall: epoll_ctl (through libuv).
 */
static napi_value poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, port;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  TSN_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  TSN_CALL(env, napi_get_value_int32(env, argv[1], &port));
  if (!g_handler) {
    tsn_throw_code(env, "ERR_INVALID_STATE", "pollStart: call setReadyHandler first");
    return NULL;
  }
  if (port < 0 || (size_t)port >= g_ready_cap || g_polls[port]) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "pollStart: port id out of range or already polled");
    return NULL;
  }
  uv_loop_t *loop;
  TSN_CALL(env, napi_get_uv_event_loop(env, &loop));
  port_poll *pp = calloc(1, sizeof *pp);
  if (!pp) {
    tsn_throw_code(env, "ENOMEM", "pollStart: out of memory");
    return NULL;
  }
  pp->port = port;
  pp->fd = fd;
  int r = uv_poll_init(loop, &pp->handle, fd);
  if (r < 0) {
    free(pp); /* not initialised: not in the loop's queue */
    tsn_throw_errno(env, "uv_poll_init", NULL, -r);
    return NULL;
  }
  r = uv_poll_start(&pp->handle, UV_READABLE, on_poll);
  if (r < 0) {
    uv_close((uv_handle_t *)&pp->handle, free_poll);
    tsn_throw_errno(env, "uv_poll_start", NULL, -r);
    return NULL;
  }
  if (g_busy_epfd >= 0) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)port};
    if (epoll_ctl(g_busy_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      int e = errno;
      uv_poll_stop(&pp->handle);
      uv_close((uv_handle_t *)&pp->handle, free_poll);
      tsn_throw_errno(env, "epoll_ctl", "pollStart: the busy-poll set", e);
      return NULL;
    }
  }
  g_polls[port] = pp;
  return NULL;
}

/* pollStop(portId): stop watching; the port is no longer reported. Safe to call twice. */
static napi_value poll_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t port;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  TSN_CALL(env, napi_get_value_int32(env, argv[0], &port));
  if (port < 0 || (size_t)port >= g_ready_cap || !g_polls[port]) return NULL;
  port_poll *pp = g_polls[port];
  g_polls[port] = NULL;
  /* A port noted ready this turn but stopped before the check runs must not be reported. */
  for (int32_t i = 0; i < g_nready; i++)
    if (g_ready[i] == port) {
      g_ready[i] = g_ready[--g_nready];
      break;
    }
  g_flag[port] = 0;
  /* The descriptor is still open here (ports close after pollStop); ENOENT/EBADF change nothing. */
  if (g_busy_epfd >= 0) epoll_ctl(g_busy_epfd, EPOLL_CTL_DEL, pp->fd, NULL);
  uv_poll_stop(&pp->handle);
  uv_close((uv_handle_t *)&pp->handle, free_poll);
  return NULL;
}

/*
 * setBusyPoll(microseconds): how long the check may keep polling for frames after a call that had
 * some (0 turns it off). Returns the value in force. Syscalls: none.
 */
static napi_value set_busy_poll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  double us;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_double(env, argv[0], &us) != napi_ok || !(us >= 0 && us <= 1000)) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "setBusyPoll(microseconds): expected 0 (off) to 1000");
    return NULL;
  }
  g_busy_ns = (int64_t)(us * 1000.0);
  g_busy_cur_ns = g_busy_ns;
  TSN_CALL(env, napi_create_double(env, us, &out));
  return out;
}

/* busyPollStats(): { budgetUs, spins, hits }: empty polls and calls made from a spin since start. */
static napi_value busy_poll_stats(napi_env env, napi_callback_info info) {
  napi_value o, v;
  TSN_CALL(env, napi_create_object(env, &o));
  TSN_CALL(env, napi_create_double(env, (double)g_busy_ns / 1000.0, &v));
  TSN_CALL(env, napi_set_named_property(env, o, "budgetUs", v));
  TSN_CALL(env, napi_create_double(env, g_busy_spins, &v));
  TSN_CALL(env, napi_set_named_property(env, o, "spins", v));
  TSN_CALL(env, napi_create_double(env, g_busy_hits, &v));
  TSN_CALL(env, napi_set_named_property(env, o, "hits", v));
  return o;
}

napi_value tsn_readiness_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setBusyPoll", NULL, set_busy_poll, NULL, NULL, NULL, napi_default, NULL},
      {"busyPollStats", NULL, busy_poll_stats, NULL, NULL, NULL, napi_default, NULL},
      {"setReadyHandler", NULL, set_ready_handler, NULL, NULL, NULL, napi_default, NULL},
      {"pollStart", NULL, poll_start, NULL, NULL, NULL, napi_default, NULL},
      {"pollStop", NULL, poll_stop, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
