/*
 * tap.c - TAP devices on /dev/net/tun, set up the way a fast userspace switch needs them.
 *
 * A port is opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR: every read and write carries a 12-byte
 * virtio-net header, and TUNSETOFFLOAD(CSUM | TSO4 | TSO6) lets the kernel hand us, and take from us,
 * 64 KB TCP super-frames with checksums left partial. That one choice is the difference between ~1.4
 * and ~10 Gbit/s. The kernel rejects TSO without CSUM (EINVAL), so the flags go together.
 *
 * A TAP can be made directly inside a container's network namespace: the kernel binds a tun descriptor
 * to the namespace of the thread that opened /dev/net/tun, and TUNSETIFF creates (or re-attaches to)
 * the device there. So tapOpen() steps into the namespace (netns.c) around the open and the ioctls, and
 * steps back; the descriptor keeps working from the switch's own namespace.
 *
 * Syscalls: open(2) of /dev/net/tun, ioctl(2) TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD, TUNSETPERSIST,
 * TUNGETIFF, TUNGETDEVNETNS; fstat(2); close(2); setns(2) via netns.c.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "errors.h"
#include "layout.h"
#include "netns.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
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
 * tap_setup() - Open /dev/net/tun and make or re-attach the TAP, in the thread's current netns
 * @ifr:	ifr_name set by the caller; ifr_flags filled here; on return the kernel's name
 * @vnet:	IFF_VNET_HDR with a TSN_VNET_HDR_LEN header
 * @offload:	TUNSETOFFLOAD CSUM | TSO4 | TSO6 (else 0)
 * @persist:	TUNSETPERSIST value
 * @sys:	Set to the failing call ("open", "ioctl") on error
 * @what:	Set to what failed ("/dev/net/tun", "TUNSETIFF", ...) on error
 *
 * Return: the descriptor (non-blocking, close-on-exec), or -errno (nothing left open)
 * Syscalls: open, ioctl(TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD, TUNSETPERSIST), close
 */
static int tap_setup(struct ifreq *ifr, bool vnet, bool offload, bool persist, const char **sys, const char **what) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *sys = "open";
    *what = "/dev/net/tun";
    return -errno;
  }
  *sys = "ioctl";
  ifr->ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  if (ioctl(fd, TUNSETIFF, ifr) < 0) {
    *what = "TUNSETIFF";
    goto fail;
  }
  if (vnet) {
    int sz = TSN_VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      *what = "TUNSETVNETHDRSZ";
      goto fail;
    }
  }
  unsigned off = offload ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
  if (ioctl(fd, TUNSETOFFLOAD, off) < 0) {
    *what = "TUNSETOFFLOAD";
    goto fail;
  }
  if (ioctl(fd, TUNSETPERSIST, persist ? 1 : 0) < 0) {
    *what = "TUNSETPERSIST";
    goto fail;
  }
  return fd;
fail:;
  int e = errno;
  close(fd);
  return -e;
}

/*
 * tapOpen(name: string, opts: { vnetHdr?: boolean = true, offload?: boolean = true, persist?: boolean = false,
 *                               netns?: string })
 *   -> { fd: number, name: string }
 * Creates the TAP, or attaches to an existing persistent one of that name (the daemon re-adopts its
 * devices this way after a restart). The descriptor is non-blocking and close-on-exec.
 * With opts.netns (a path: /var/run/netns/NAME, /proc/PID/ns/net) the device is made, or re-attached,
 * inside that namespace; a missing path throws ENOENT naming it.
 * Syscalls: open, ioctl(TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD, TUNSETPERSIST); with netns also
 * open and setns (netns.c), around the rest.
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
  if (strchr(name, '%')) {
    /* TUNSETIFF reads "name%d" as a pattern and makes a new device under a name of its own choosing. */
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "tapOpen: interface name must not contain '%' (the kernel reads it as a name pattern)");
    return NULL;
  }
  bool vnet = true, offload = true, persist = false;
  char netns[PATH_MAX] = "";
  if (argc >= 2) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_object) {
      vnet = get_bool_prop(env, argv[1], "vnetHdr", true);
      offload = get_bool_prop(env, argv[1], "offload", true);
      persist = get_bool_prop(env, argv[1], "persist", false);
      napi_value jns;
      TSN_CALL(env, napi_get_named_property(env, argv[1], "netns", &jns));
      if (!tsn_netns_path_arg(env, jns, "tapOpen: opts.netns", netns, sizeof netns)) return NULL;
    }
  }
  if (offload && !vnet) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "tapOpen: offload needs vnetHdr (the offload metadata travels in the virtio-net header)");
    return NULL;
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, nlen);
  int saved;
  if (!tsn_netns_enter_js(env, netns, &saved)) return NULL;
  const char *sys = NULL, *what = NULL;
  int fd = tap_setup(&ifr, vnet, offload, persist, &sys, &what);
  tsn_netns_leave_js(saved);
  if (fd < 0) {
    char desc[PATH_MAX + 64];
    snprintf(desc, sizeof desc, "%s %s%s%s", what, ifr.ifr_name, netns[0] ? " in netns " : "", netns);
    tsn_throw_errno(env, sys, desc, -fd);
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

/*
 * tapDeviceName(fd) -> string: the device's current name, which follows renames and moves to another
 * namespace (libnetwork moves a runtime's interface into the sandbox and renames it). A device that is
 * gone (deleted, or its namespace destroyed) throws EBADFD: the descriptor is detached from it.
 * Syscall: ioctl(TUNGETIFF).
 */
static napi_value tap_device_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  TSN_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
    tsn_throw_errno(env, "ioctl", "TUNGETIFF", errno);
    return NULL;
  }
  napi_value name;
  TSN_CALL(env, napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name));
  return name;
}

/*
 * tapNetnsInode(fd) -> number: the inode of the network namespace the device is in now (the namespace's
 * id, as stat(2) of /proc/PID/ns/net gives it), so a watcher can tell whether anything but our
 * descriptor still reaches that namespace. EBADFD once the device is gone.
 * Syscalls: ioctl(TUNGETDEVNETNS), fstat, close.
 */
static napi_value tap_netns_inode(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  TSN_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  int nsfd = ioctl(fd, TUNGETDEVNETNS);
  if (nsfd < 0) {
    tsn_throw_errno(env, "ioctl", "TUNGETDEVNETNS", errno);
    return NULL;
  }
  struct stat st;
  int rc = fstat(nsfd, &st);
  int e = errno;
  close(nsfd);
  if (rc < 0) {
    tsn_throw_errno(env, "fstat", "TUNGETDEVNETNS descriptor", e);
    return NULL;
  }
  napi_value ino;
  TSN_CALL(env, napi_create_double(env, (double)st.st_ino, &ino));
  return ino;
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
      {"tapDeviceName", NULL, tap_device_name, NULL, NULL, NULL, napi_default, NULL},
      {"tapNetnsInode", NULL, tap_netns_inode, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
