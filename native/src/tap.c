/*
 * tap.c - TAP devices on /dev/net/tun, set up the way a fast userspace switch needs them.
 *
 * A port is opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR: every read and write carries a 12-byte
 * virtio-net header, and TUNSETOFFLOAD(CSUM | TSO4 | TSO6) lets the kernel hand us, and take from us,
 * 64 KB TCP super-frames with checksums left partial. That one choice is the difference between ~1.4
 * and ~10 Gbit/s. The kernel rejects TSO without CSUM (EINVAL), so the flags go together.
 *
 * Syscalls: open(2) of /dev/net/tun, ioctl(2) TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD, TUNSETPERSIST,
 * TUNGETIFF; close(2).
 */
#define _GNU_SOURCE
#include "tap.h"
#include "errors.h"
#include "layout.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static bool get_bool_prop(napi_env env, napi_value obj, const char *key, bool dflt) {
  bool has = false, v = dflt;
  napi_value val;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return dflt;
  napi_get_named_property(env, obj, key, &val);
  napi_typeof(env, val, &t);
  if (t == napi_boolean) napi_get_value_bool(env, val, &v);
  return v;
}

/*
 * tapOpen(name: string, opts: { vnetHdr?: boolean = true, offload?: boolean = true, persist?: boolean = false })
 *   -> { fd: number, name: string }
 * Creates the TAP, or attaches to an existing persistent one of that name (the daemon re-adopts its
 * devices this way after a restart). The descriptor is non-blocking and close-on-exec.
 * Syscalls: open, ioctl(TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD, TUNSETPERSIST).
 */
static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 8] = {0};
  size_t nlen = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen) != napi_ok) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "tapOpen: name must be a string");
    return NULL;
  }
  if (nlen >= IFNAMSIZ) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "tapOpen: interface name longer than 15 bytes");
    return NULL;
  }
  bool vnet = true, offload = true, persist = false;
  if (argc >= 2) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_object) {
      vnet = get_bool_prop(env, argv[1], "vnetHdr", true);
      offload = get_bool_prop(env, argv[1], "offload", true);
      persist = get_bool_prop(env, argv[1], "persist", false);
    }
  }
  if (offload && !vnet) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "tapOpen: offload needs vnetHdr (the offload metadata travels in the virtio-net header)");
    return NULL;
  }

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    tsn_throw_errno(env, "open", "/dev/net/tun", errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, nlen);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    tsn_throw_errno(env, "ioctl", "TUNSETIFF", e);
    return NULL;
  }
  if (vnet) {
    int sz = TSN_VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int e = errno;
      close(fd);
      tsn_throw_errno(env, "ioctl", "TUNSETVNETHDRSZ", e);
      return NULL;
    }
  }
  unsigned off = offload ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
  if (ioctl(fd, TUNSETOFFLOAD, off) < 0) {
    int e = errno;
    close(fd);
    tsn_throw_errno(env, "ioctl", "TUNSETOFFLOAD", e);
    return NULL;
  }
  if (ioctl(fd, TUNSETPERSIST, persist ? 1 : 0) < 0) {
    int e = errno;
    close(fd);
    tsn_throw_errno(env, "ioctl", "TUNSETPERSIST", e);
    return NULL;
  }
  napi_value res, jfd, jname;
  TSN_CALL(env, napi_create_object(env, &res));
  TSN_CALL(env, napi_create_int32(env, fd, &jfd));
  TSN_CALL(env, napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &jname));
  napi_set_named_property(env, res, "fd", jfd);
  napi_set_named_property(env, res, "name", jname);
  return res;
}

/* tapSetPersist(fd, on): keep (or stop keeping) the device after the descriptor closes. Syscall: ioctl(TUNSETPERSIST). */
static napi_value tap_set_persist(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  bool on;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  TSN_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  TSN_CALL(env, napi_get_value_bool(env, argv[1], &on));
  if (ioctl(fd, TUNSETPERSIST, on ? 1 : 0) < 0) tsn_throw_errno(env, "ioctl", "TUNSETPERSIST", errno);
  return NULL;
}

/* closeFd(fd). Syscall: close. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  TSN_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  if (close(fd) < 0) tsn_throw_errno(env, "close", NULL, errno);
  return NULL;
}

napi_value tsn_tap_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tapOpen", NULL, tap_open, NULL, NULL, NULL, napi_default, NULL},
      {"tapSetPersist", NULL, tap_set_persist, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
