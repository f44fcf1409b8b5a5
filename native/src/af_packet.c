/*
 * af_packet.c - an uplink on a parent interface (macvlan/ipvlan networks): one AF_PACKET socket bound
 * to the parent, batched receive into the frame pool and batched send out of it.
 *
 * Socket: SOCK_RAW, bound to the parent's ifindex for ETH_P_ALL (created with protocol 0, so nothing
 * is queued before the bind), non-blocking. Options:
 *   - PACKET_VNET_HDR_SZ = 12 (Linux >= 6.2; else PACKET_VNET_HDR, 10 bytes): every frame carries a
 *     virtio-net header, so GSO super-frames (a veth parent hands us 64 KB TCP frames, GRO'd or not
 *     yet segmented) and partial checksums cross unsegmented in both directions, exactly as on a TAP;
 *     the 12-byte form is the TAP's own layout, so the header sits in the same headroom bytes.
 *   - PACKET_IGNORE_OUTGOING (Linux >= 4.20): what we (or the host) send is not read back. Without it
 *     we ask for each frame's sockaddr_ll and skip PACKET_OUTGOING ones (counted).
 *   - PACKET_AUXDATA: the kernel strips an 802.1Q tag into metadata before a packet socket sees the
 *     frame; we put it back (4 bytes into the headroom), so a tagged frame is never delivered untagged.
 *   - SO_RCVBUF/SO_SNDBUF raised (SO_*BUFFORCE when root): a default receive buffer holds three
 *     64 KB frames.
 *   - Membership (packetMembership): PACKET_ADD_MEMBERSHIP with PACKET_MR_UNICAST per member MAC
 *     (the parent's unicast filter learns it; a driver without one goes promiscuous by itself),
 *     PACKET_MR_ALLMULTI, or PACKET_MR_PROMISC (passthru).
 *   - A classic BPF socket filter (packetSetFilter) that accepts only frames to member MACs and
 *     group addresses: a busy LAN's traffic for other hosts is never copied to us.
 *
 * Receive, packetRecvBurst (recvmmsg): each frame lands at its slot's usual frame offset with its
 * virtio-net header just before it, exactly like a TAP read (one copy, kernel -> pool). A TPACKET_V3
 * ring was the alternative: it batches without a syscall per burst, but frames then live in the ring
 * and must be copied into pool slots anyway (the pool is what the stages and the TAP writes use), so it
 * would cost a second copy of every 64 KB frame to save one syscall per burst. Frames the kernel marks
 * truncated (larger than a slot) are dropped and counted; later frames of the burst move up so the
 * burst stays a run of consecutive slots.
 *
 * Send, packetSendBurst (sendmmsg): the virtio-net header is written into the headroom before each
 * frame and one iovec covers header and frame (no copy); the kernel segments GSO frames itself if the
 * parent cannot (validate_xmit_skb). A frame that fails is counted by errno class and the rest of the
 * burst goes on; ENETDOWN/ENXIO (parent down or gone) fails the whole rest of the burst at once.
 *
 * Parent down/up: the kernel unhooks the socket on NETDEV_DOWN (sk_err = ENETDOWN, which poll reports
 * as an error) and hooks it again on NETDEV_UP by itself. packetRecvBurst reports the ENETDOWN in the
 * status vector instead of throwing, so JavaScript can count it and re-arm its readiness watch.
 *
 * Syscalls: socket, ioctl(SIOCGIFINDEX, SIOCGIFHWADDR, SIOCGIFMTU), setsockopt, getsockopt, bind,
 * recvmmsg, sendmmsg, close; open/setns via netns.c.
 */
#define _GNU_SOURCE
#include "af_packet.h"
#include "errors.h"
#include "gso.h"
#include "layout.h"
#include "napi_args.h"
#include "packet_rx.h"
#include "wire.h"
#include "netns.h"
#include "pool.h"
#include "tx_offload.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ 24
#endif
#ifndef TP_STATUS_VLAN_TPID_VALID
#define TP_STATUS_VLAN_TPID_VALID (1 << 6)
#endif

#define TSN_MAX_UPLINKS 64
#define TSN_PKT_MAX_BURST 256
#define TSN_PKT_RCVBUF (8 << 20)
#define TSN_PKT_SNDBUF (4 << 20)
#define TSN_PKT_ACCEPT 0x40000u     /* BPF return: keep up to 256 KiB, i.e. the whole frame */

typedef struct {
  int fd;
  int ifindex;
  int hdr_len;          /* virtio-net header bytes in front of every frame: 12, or 10 on old kernels */
  bool ignore_outgoing; /* PACKET_IGNORE_OUTGOING took effect */
  int32_t *status;
  napi_ref status_ref;
  struct mmsghdr msgs[TSN_PKT_MAX_BURST];
  struct iovec iovs[TSN_PKT_MAX_BURST];
  struct sockaddr_ll names[TSN_PKT_MAX_BURST];
  union {
    char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    struct cmsghdr align;
  } ctrl[TSN_PKT_MAX_BURST];
} tsn_uplink;

static tsn_uplink *uplinks[TSN_MAX_UPLINKS];


static tsn_uplink *uplink_get(napi_env env, napi_value v) {
  int32_t h;
  if (tsn_arg_i32(env, v, &h) || h < 0 || h >= TSN_MAX_UPLINKS || !uplinks[h]) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "not an open uplink handle");
    return NULL;
  }
  return uplinks[h];
}

/* A 48-bit MAC given as a JS number, into 6 bytes; false if it is not one. */
static bool mac_arg(napi_env env, napi_value v, uint8_t out[6]) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 281474976710655.0 || d != (double)(uint64_t)d) return false;
  uint64_t m = (uint64_t)d;
  for (int i = 5; i >= 0; i--, m >>= 8) out[i] = (uint8_t)m;
  return true;
}

/*
 * set_buf() - Raise a socket buffer, forcing past the sysctl limit when we may (root)
 * Syscalls: setsockopt(SO_RCVBUFFORCE / SO_SNDBUFFORCE, falling back to SO_RCVBUF / SO_SNDBUF)
 */
static void set_buf(int fd, int force_opt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0) setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

/*
 * uplink_setup() - Open the packet socket on @ifname, in the calling thread's current netns
 * @ifname:	The parent interface
 * @u:		Filled: fd, ifindex, hdr_len, ignore_outgoing
 * @mac:	Set to the parent's MAC
 * @mtu:	Set to the parent's MTU
 * @sys:	Set to the failing syscall on error
 * @what:	Set to what failed on error
 *
 * Return: 0, or -errno with nothing left open. A parent that is not Ethernet is -EPROTONOSUPPORT.
 * Syscalls: socket, ioctl(SIOCGIFINDEX, SIOCGIFHWADDR, SIOCGIFMTU), setsockopt(PACKET_VNET_HDR_SZ or
 *           PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING, PACKET_AUXDATA, SO_RCVBUF*, SO_SNDBUF*), bind, close
 */
static int uplink_setup(const char *ifname, tsn_uplink *u, uint8_t mac[6], int *mtu, const char **sys, const char **what) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *sys = "socket";
    *what = "AF_PACKET";
    return -errno;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
  *sys = "ioctl";
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    *what = "SIOCGIFINDEX";
    goto fail;
  }
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    *what = "SIOCGIFHWADDR";
    goto fail;
  }
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    close(fd);
    *what = "SIOCGIFHWADDR (not an Ethernet device)";
    return -EPROTONOSUPPORT;
  }
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
    *what = "SIOCGIFMTU";
    goto fail;
  }
  *mtu = ifr.ifr_mtu;
  *sys = "setsockopt";
  int one = 1, sz = TSN_VNET_HDR_LEN;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR_SZ, &sz, sizeof sz) == 0) {
    u->hdr_len = TSN_VNET_HDR_LEN;
  } else if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0) {
    u->hdr_len = 10;
  } else {
    *what = "PACKET_VNET_HDR";
    goto fail;
  }
  u->ignore_outgoing = setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) {
    *what = "PACKET_AUXDATA";
    goto fail;
  }
  set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, TSN_PKT_RCVBUF);
  set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, TSN_PKT_SNDBUF);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    *sys = "bind";
    *what = "AF_PACKET";
    goto fail;
  }
  u->fd = fd;
  u->ifindex = ifindex;
  return 0;
fail:;
  int e = errno;
  close(fd);
  return -e;
}

static void uplink_free(tsn_uplink *u) {
  if (!u) return;
  if (u->fd >= 0) close(u->fd);
  free(u);
}

/*
 * packetOpen(ifname: string, status: Int32Array, opts?: { netns?: string })
 *   -> { handle, fd, ifindex, mac: number, mtu, vnetHdrLen, ignoreOutgoing: boolean }
 * Opens the uplink socket on the parent (inside opts.netns when given). A missing parent throws ENODEV
 * naming it; a parent that is not Ethernet throws EPROTONOSUPPORT. status gets the TSN_PST_* counters.
 * Syscalls: as uplink_setup(); open/setns with netns.
 */
static napi_value packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 8] = {0};
  size_t nlen = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen) != napi_ok || nlen == 0 || nlen >= IFNAMSIZ) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "packetOpen(ifname: 1 to 15 bytes, status: Int32Array, opts?)");
    return NULL;
  }
  napi_typedarray_type st;
  size_t stlen;
  void *stdata;
  if (napi_get_typedarray_info(env, argv[1], &st, &stlen, &stdata, NULL, NULL) != napi_ok || st != napi_int32_array || stlen < TSN_PST_COUNT) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "packetOpen: status must be an Int32Array of at least 12 entries");
    return NULL;
  }
  char netns[PATH_MAX] = "";
  if (argc >= 3) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t == napi_object) {
      napi_value jns;
      TSN_CALL(env, napi_get_named_property(env, argv[2], "netns", &jns));
      if (!tsn_netns_path_arg(env, jns, "packetOpen: opts.netns", netns, sizeof netns)) return NULL;
    }
  }
  int h = -1;
  for (int i = 0; i < TSN_MAX_UPLINKS; i++)
    if (!uplinks[i]) {
      h = i;
      break;
    }
  if (h < 0) {
    tsn_throw_code(env, "ERR_OUT_OF_RANGE", "packetOpen: too many uplinks open");
    return NULL;
  }
  tsn_uplink *u = calloc(1, sizeof *u);
  if (!u) {
    tsn_throw_code(env, "ENOMEM", "packetOpen: out of memory");
    return NULL;
  }
  u->fd = -1;
  int saved;
  if (!tsn_netns_enter_js(env, netns, &saved)) {
    uplink_free(u);
    return NULL;
  }
  uint8_t mac[6];
  int mtu = 0;
  const char *sys = NULL, *what = NULL;
  int rc = uplink_setup(name, u, mac, &mtu, &sys, &what);
  tsn_netns_leave_js(saved);
  if (rc < 0) {
    char desc[PATH_MAX + 96];
    snprintf(desc, sizeof desc, "%s %s%s%s", what, name, netns[0] ? " in netns " : "", netns);
    uplink_free(u);
    tsn_throw_errno(env, sys, desc, -rc);
    return NULL;
  }
  u->status = stdata;
  memset(u->status, 0, sizeof(int32_t) * TSN_PST_COUNT);
  napi_create_reference(env, argv[1], 1, &u->status_ref);
  uplinks[h] = u;

  napi_value res, jmac, jio;
  TSN_CALL(env, napi_create_object(env, &res));
  tsn_set_i32(env, res, "handle", h);
  tsn_set_i32(env, res, "fd", u->fd);
  tsn_set_i32(env, res, "ifindex", u->ifindex);
  tsn_set_i32(env, res, "mtu", mtu);
  tsn_set_i32(env, res, "vnetHdrLen", u->hdr_len);
  double m = 0;
  for (int i = 0; i < 6; i++) m = m * 256 + mac[i];
  napi_create_double(env, m, &jmac);
  napi_set_named_property(env, res, "mac", jmac);
  napi_get_boolean(env, u->ignore_outgoing, &jio);
  napi_set_named_property(env, res, "ignoreOutgoing", jio);
  return res;
}

/* packetClose(handle): close the socket (its memberships and filter go with it). Syscall: close. */
static napi_value packet_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t h;
  if (argc < 1 || tsn_arg_i32(env, argv[0], &h) || h < 0 || h >= TSN_MAX_UPLINKS || !uplinks[h]) return NULL;
  tsn_uplink *u = uplinks[h];
  uplinks[h] = NULL;
  napi_delete_reference(env, u->status_ref);
  uplink_free(u);
  return NULL;
}

/*
 * packetMembership(handle, add: boolean, type: 'unicast' | 'multicast' | 'allmulti' | 'promisc', mac?: number)
 * Adds or drops one membership of the socket on its parent (mac for unicast/multicast). Kernel
 * refusals throw with the errno name (dropping one that is not there: EADDRNOTAVAIL).
 * Syscall: setsockopt(PACKET_ADD_MEMBERSHIP / PACKET_DROP_MEMBERSHIP).
 */
static napi_value packet_membership(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    tsn_throw_code(env, "ERR_MISSING_ARGS", "packetMembership(handle, add, type, mac?)");
    return NULL;
  }
  tsn_uplink *u = uplink_get(env, argv[0]);
  if (!u) return NULL;
  bool add;
  char type[16] = {0};
  size_t tlen;
  if (napi_get_value_bool(env, argv[1], &add) != napi_ok || napi_get_value_string_utf8(env, argv[2], type, sizeof type, &tlen) != napi_ok) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "packetMembership: add must be a boolean and type a string");
    return NULL;
  }
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = u->ifindex;
  bool needs_mac = false;
  if (!strcmp(type, "unicast")) mr.mr_type = PACKET_MR_UNICAST, needs_mac = true;
  else if (!strcmp(type, "multicast")) mr.mr_type = PACKET_MR_MULTICAST, needs_mac = true;
  else if (!strcmp(type, "allmulti")) mr.mr_type = PACKET_MR_ALLMULTI;
  else if (!strcmp(type, "promisc")) mr.mr_type = PACKET_MR_PROMISC;
  else {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "packetMembership: type must be unicast, multicast, allmulti or promisc");
    return NULL;
  }
  if (needs_mac) {
    if (argc < 4 || !mac_arg(env, argv[3], mr.mr_address)) {
      tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "packetMembership: mac must be a 48-bit MAC as a number");
      return NULL;
    }
    mr.mr_alen = 6;
  }
  if (setsockopt(u->fd, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) < 0) {
    tsn_throw_errno(env, "setsockopt", add ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP", errno);
  }
  return NULL;
}

/* A member MAC as its two halves as the filter loads them: the first two bytes, the last four. */
typedef struct {
  uint16_t hi;
  uint32_t lo;
} tsn_mac_key;

static int mac_key_cmp(const void *a, const void *b) {
  const tsn_mac_key *x = a, *y = b;
  if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * filter_build() - The classic BPF program accepting frames to @keys (and group addresses)
 * @keys:	Member MACs, sorted and without duplicates
 * @n:		How many
 * @groups:	Accept every group (multicast/broadcast) destination too
 * @prog:	Filled with the program; NULL only counts
 *
 * MACs are grouped by their first two bytes (a network's are nearly all 02:42): one 16-bit load, one
 * compare per distinct prefix, and then one 32-bit load and two instructions per member:
 *   [groups]  ldb [0]; jset #1, 0, 1; ret #accept
 *             ldh [0]
 *   prefix P: jeq #P, 0, <past the block>        (jeq #P, 1, 0; ja <past> when that is > 255 away)
 *             ld [2]
 *             jeq #lo, 0, 1; ret #accept          one pair per member with prefix P
 *             ret #0                              P matched and no member did: no other prefix can
 *             ret #0
 * That is 2 * N + 6 instructions for N members under one prefix (+3 with groups), against 5 * N + 4
 * for one compare chain per MAC; the kernel charges the program (converted to eBPF, where each load
 * from the packet grows into several instructions) against the socket's optmem_max.
 * Returns: the program's length in instructions.
 */
static size_t filter_build(const tsn_mac_key *keys, size_t n, bool groups, struct sock_filter *prog) {
  size_t k = 0;
#define EMIT(insn)                                   \
  do {                                               \
    if (prog) prog[k] = (struct sock_filter)insn;    \
    k++;                                             \
  } while (0)
  if (groups) {
    EMIT(BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, TSN_PKT_ACCEPT));
  }
  if (n > 0) EMIT(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0));
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && keys[j].hi == keys[i].hi) j++;
    size_t body = 1 + 2 * (j - i) + 1; /* ld [2], the pairs, ret #0 */
    if (body <= 255) {
      EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, keys[i].hi, 0, (uint8_t)body));
    } else {
      EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, keys[i].hi, 1, 0));
      EMIT(BPF_JUMP(BPF_JMP | BPF_JA, (uint32_t)body, 0, 0));
    }
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2));
    for (size_t m = i; m < j; m++) {
      EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, keys[m].lo, 0, 1));
      EMIT(BPF_STMT(BPF_RET | BPF_K, TSN_PKT_ACCEPT));
    }
    EMIT(BPF_STMT(BPF_RET | BPF_K, 0));
    i = j;
  }
  EMIT(BPF_STMT(BPF_RET | BPF_K, 0));
#undef EMIT
  return k;
}

/*
 * filter_keys_arg() - The MACs of a JS array as sorted, de-duplicated keys
 * @n:		In: the array's length; out: the number of distinct MACs
 * Returns: a malloc'd array (the caller frees it), or NULL with an exception pending.
 */
static tsn_mac_key *filter_keys_arg(napi_env env, napi_value arr, const char *fn, size_t *n) {
  tsn_mac_key *keys = malloc((*n ? *n : 1) * sizeof *keys);
  if (!keys) {
    tsn_throw_code(env, "ENOMEM", "out of memory for the filter's MACs");
    return NULL;
  }
  for (uint32_t i = 0; i < *n; i++) {
    napi_value v;
    uint8_t m[6];
    if (napi_get_element(env, arr, i, &v) != napi_ok || !mac_arg(env, v, m)) {
      free(keys);
      char msg[96];
      snprintf(msg, sizeof msg, "%s: every MAC must be a 48-bit number", fn);
      tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
      return NULL;
    }
    keys[i].hi = (uint16_t)(((uint32_t)m[0] << 8) | m[1]);
    keys[i].lo = ((uint32_t)m[2] << 24) | ((uint32_t)m[3] << 16) | ((uint32_t)m[4] << 8) | m[5];
  }
  qsort(keys, *n, sizeof *keys, mac_key_cmp);
  size_t w = 0;
  for (size_t i = 0; i < *n; i++)
    if (w == 0 || mac_key_cmp(&keys[w - 1], &keys[i]) != 0) keys[w++] = keys[i];
  *n = w;
  return keys;
}

/* The macs argument: false (exception pending) unless an array or null; *is_array and *n say which. */
static bool filter_macs_arg(napi_env env, napi_value v, const char *fn, bool *is_array, uint32_t *n) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  *is_array = false;
  *n = 0;
  if (t == napi_null || t == napi_undefined) return true;
  if (napi_is_array(env, v, is_array) != napi_ok || !*is_array) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: macs must be an array of numbers or null", fn);
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  napi_get_array_length(env, v, n);
  return true;
}

/* Remove the socket's filter, if any. Syscall: setsockopt(SO_DETACH_FILTER). Returns 0 or an errno. */
static int filter_detach(int fd) {
  int dummy = 0;
  return setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof dummy) < 0 && errno != ENOENT ? errno : 0;
}

/*
 * filter_attach() - Attach @fp to @fd, making room for it if the kernel will not hold two programs
 * Replacing a filter charges the new program against optmem_max while the old one is still charged,
 * so a program that fits alone can fail with ENOMEM next to its predecessor: then the old one is
 * detached and the attach tried once more. If the new program alone does not fit, the socket is left
 * without a filter (it reads everything: correct, only slower).
 * Syscalls: setsockopt(SO_ATTACH_FILTER, SO_DETACH_FILTER).
 * Returns: 0 attached, 1 attached after detaching the old program, 2 left unfiltered (ENOMEM), or
 * -errno for any other failure.
 */
static int filter_attach(int fd, const struct sock_fprog *fp) {
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, fp, sizeof *fp) == 0) return 0;
  if (errno != ENOMEM) return -errno;
  int e = filter_detach(fd);
  if (e) return -e;
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, fp, sizeof *fp) == 0) return 1;
  return errno == ENOMEM ? 2 : -errno;
}

/*
 * packetSetFilter(handle, macs: number[] | null, groups: boolean) -> instructions
 * Attaches a classic BPF filter (filter_build) that accepts frames whose destination is one of macs,
 * or any group (multicast/broadcast) address when groups is true, and drops the rest in the kernel
 * before they are queued. Returns the program's length in instructions, or, with no filter attached
 * (the socket then reads everything: correct, only slower):
 *   -1  macs is null, or the program would be longer than BPF_MAXINSNS (about 2000 MACs);
 *   -2  the kernel would not charge the program to the socket (ENOMEM even with the old one detached:
 *       optmem_max is too small for it).
 * Other failures throw with their errno; the old filter may then be detached already.
 * Syscall: setsockopt(SO_ATTACH_FILTER / SO_DETACH_FILTER).
 */
static napi_value packet_set_filter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    tsn_throw_code(env, "ERR_MISSING_ARGS", "packetSetFilter(handle, macs | null, groups)");
    return NULL;
  }
  tsn_uplink *u = uplink_get(env, argv[0]);
  if (!u) return NULL;
  bool groups = false;
  napi_get_value_bool(env, argv[2], &groups);
  bool is_array;
  uint32_t len;
  if (!filter_macs_arg(env, argv[1], "packetSetFilter", &is_array, &len)) return NULL;
  napi_value res;
  size_t n = len, k = 0;
  tsn_mac_key *keys = NULL;
  if (is_array) {
    keys = filter_keys_arg(env, argv[1], "packetSetFilter", &n);
    if (!keys) return NULL;
    k = filter_build(keys, n, groups, NULL);
  }
  if (!is_array || k > BPF_MAXINSNS) {
    free(keys);
    int e = filter_detach(u->fd);
    if (e) {
      tsn_throw_errno(env, "setsockopt", "SO_DETACH_FILTER", e);
      return NULL;
    }
    napi_create_int32(env, -1, &res);
    return res;
  }
  struct sock_filter *prog = calloc(k, sizeof *prog);
  if (!prog) {
    free(keys);
    tsn_throw_code(env, "ENOMEM", "packetSetFilter: out of memory");
    return NULL;
  }
  filter_build(keys, n, groups, prog);
  free(keys);
  struct sock_fprog fprog = {.len = (unsigned short)k, .filter = prog};
  int rc = filter_attach(u->fd, &fprog);
  free(prog);
  if (rc < 0) {
    tsn_throw_errno(env, "setsockopt", "SO_ATTACH_FILTER", -rc);
    return NULL;
  }
  napi_create_int32(env, rc == 2 ? -2 : (int32_t)k, &res);
  return res;
}

/*
 * packetFilterProgram(macs: number[], groups: boolean) -> Buffer
 * The program packetSetFilter would attach for these MACs, as the kernel's struct sock_filter array
 * (8 bytes each: u16 code, u8 jt, u8 jf, u32 k, host byte order), so it can be checked without a
 * socket. No syscall.
 */
static napi_value packet_filter_program(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_array = false, groups = false;
  uint32_t len = 0;
  if (argc < 2) {
    tsn_throw_code(env, "ERR_MISSING_ARGS", "packetFilterProgram(macs: number[], groups: boolean)");
    return NULL;
  }
  if (!filter_macs_arg(env, argv[0], "packetFilterProgram", &is_array, &len)) return NULL;
  if (!is_array) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "packetFilterProgram: macs must be an array of numbers");
    return NULL;
  }
  napi_get_value_bool(env, argv[1], &groups);
  size_t n = len;
  tsn_mac_key *keys = filter_keys_arg(env, argv[0], "packetFilterProgram", &n);
  if (!keys) return NULL;
  size_t k = filter_build(keys, n, groups, NULL);
  void *data;
  napi_value res;
  if (napi_create_buffer(env, k * sizeof(struct sock_filter), &data, &res) != napi_ok) {
    free(keys);
    tsn_throw_code(env, "ENOMEM", "packetFilterProgram: out of memory");
    return NULL;
  }
  filter_build(keys, n, groups, data);
  free(keys);
  return res;
}

/* The PACKET_AUXDATA control message of a received message, or NULL. */
static const struct tpacket_auxdata *aux_of(struct msghdr *mh) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
    if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA && c->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata)))
      return (const struct tpacket_auxdata *)CMSG_DATA(c);
  return NULL;
}

/*
 * packetRecvBurst(pool, handle, firstSlot, max) -> count
 * One recvmmsg of up to max frames (at most 256) into slots firstSlot.., descriptor rows filled as
 * rxBurst does for a TAP (length -1 for a read shorter than the virtio-net header). ENETDOWN, ENXIO
 * and ENODEV (the parent went down or away) are reported in status[TSN_PST_RX_ERRNO] with count 0;
 * any other error throws with its errno name.
 * Syscall: recvmmsg.
 */
static napi_value packet_recv_burst(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t first, max;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    tsn_throw_code(env, "ERR_MISSING_ARGS", "packetRecvBurst(pool, handle, firstSlot, max)");
    return NULL;
  }
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  tsn_uplink *u = uplink_get(env, argv[1]);
  if (!u) return NULL;
  if (tsn_arg_i32(env, argv[2], &first) || tsn_arg_i32(env, argv[3], &max) || first < 0 || max < 0 || (uint32_t)first + (uint32_t)max > p->slots) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "packetRecvBurst(pool, handle, firstSlot, max): slots out of range");
    return NULL;
  }
  int32_t *st = u->status;
  st[TSN_PST_RX_ERRNO] = st[TSN_PST_RX_TRUNCATED] = st[TSN_PST_RX_OUTGOING] = st[TSN_PST_RX_VLAN] = 0;
  if (max > TSN_PKT_MAX_BURST) max = TSN_PKT_MAX_BURST;
  napi_value res;
  if (max == 0) {
    napi_create_int32(env, 0, &res);
    return res;
  }
  const size_t hdr = (size_t)u->hdr_len;
  for (int32_t k = 0; k < max; k++) {
    uint8_t *frame = p->base + (size_t)(first + k) * TSN_SLOT_SIZE + TSN_HEADROOM;
    u->iovs[k].iov_base = frame - hdr;
    u->iovs[k].iov_len = TSN_SLOT_SIZE - TSN_HEADROOM + hdr;
    struct msghdr *mh = &u->msgs[k].msg_hdr;
    memset(mh, 0, sizeof *mh);
    mh->msg_iov = &u->iovs[k];
    mh->msg_iovlen = 1;
    mh->msg_name = &u->names[k];
    mh->msg_namelen = sizeof u->names[k];
    mh->msg_control = u->ctrl[k].buf;
    mh->msg_controllen = sizeof u->ctrl[k].buf;
  }
  int r;
  do r = recvmmsg(u->fd, u->msgs, (unsigned)max, MSG_DONTWAIT | MSG_TRUNC, NULL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) r = 0;
    else if (e == ENETDOWN || e == ENXIO || e == ENODEV) {
      st[TSN_PST_RX_ERRNO] = e;
      r = 0;
    } else {
      tsn_throw_errno(env, "recvmmsg", NULL, e);
      return NULL;
    }
  }
  int32_t w = 0;
  for (int32_t i = 0; i < r; i++) {
    struct msghdr *mh = &u->msgs[i].msg_hdr;
    if (!u->ignore_outgoing && u->names[i].sll_pkttype == PACKET_OUTGOING) {
      st[TSN_PST_RX_OUTGOING]++;
      continue;
    }
    if (mh->msg_flags & MSG_TRUNC) {
      st[TSN_PST_RX_TRUNCATED]++;
      continue;
    }
    size_t got = u->msgs[i].msg_len;
    uint32_t slot = (uint32_t)(first + w);
    uint8_t *frame = p->base + (size_t)slot * TSN_SLOT_SIZE + TSN_HEADROOM;
    if (w != i) memmove(frame - hdr, p->base + (size_t)(first + i) * TSN_SLOT_SIZE + TSN_HEADROOM - hdr, got);
    int32_t *d = p->desc + (size_t)slot * TSN_DESC_STRIDE;
    d[TSN_D_SLOT] = (int32_t)slot;
    d[TSN_D_OUT] = -1;
    if (tsn_packet_rx_describe(frame, got, hdr, aux_of(mh), d, (int32_t)(frame - p->base))) st[TSN_PST_RX_VLAN]++;
    w++;
  }
  napi_create_int32(env, w, &res);
  return res;
}

static void count_send_error(int32_t *st, int e, int32_t frames) { tsn_txs_count_errno(st, e, frames); }

/*
 * packetSendBurst(pool, handle, count) -> sent
 * Sends the frames of the pool's txIdx[0 .. count) to the parent, virtio-net header rebuilt from each
 * descriptor in front of the frame (GSO frames and partial checksums go as they are). Outcome in the
 * status vector's TX entries (reset by this call).
 * Syscall: sendmmsg (one per 256 frames, plus one per failing frame).
 */
static napi_value packet_send_burst(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t count;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    tsn_throw_code(env, "ERR_MISSING_ARGS", "packetSendBurst(pool, handle, count)");
    return NULL;
  }
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  tsn_uplink *u = uplink_get(env, argv[1]);
  if (!u) return NULL;
  if (tsn_arg_i32(env, argv[2], &count) || count < 0 || (uint32_t)count > p->tx_idx_len) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "packetSendBurst(pool, handle, count): count out of range");
    return NULL;
  }
  int32_t *st = u->status;
  memset(st, 0, sizeof(int32_t) * TSN_TXS_COUNT); /* the transmit counters: tx_status.h */
  const size_t hdr = (size_t)u->hdr_len;
  int32_t sent = 0;
  for (int32_t base = 0; base < count; base += TSN_PKT_MAX_BURST) {
    int32_t n = 0;
    int32_t chunk = count - base < TSN_PKT_MAX_BURST ? count - base : TSN_PKT_MAX_BURST;
    for (int32_t k = 0; k < chunk; k++) {
      int32_t di = p->tx_idx[base + k];
      if (di < 0 || (uint32_t)di >= p->slots) {
        count_send_error(st, EINVAL, 1);
        continue;
      }
      int32_t *d = p->desc + (size_t)di * TSN_DESC_STRIDE;
      int32_t off = d[TSN_D_OFF], len = d[TSN_D_LEN];
      if (off < TSN_VNET_HDR_LEN || len < 0 || (size_t)off + (size_t)len > p->len) {
        count_send_error(st, EINVAL, 1);
        continue;
      }
      uint8_t *frame = p->base + off;
      if (hdr) {
        struct tsn_vnet vh;
        tsn_desc_vnet(d, &vh);
        uint8_t tmp[TSN_VNET_HDR_LEN];
        tsn_vnet_write(tmp, &vh);
        memcpy(frame - hdr, tmp, hdr);
      }
      u->iovs[n].iov_base = frame - hdr;
      u->iovs[n].iov_len = (size_t)len + hdr;
      struct msghdr *mh = &u->msgs[n].msg_hdr;
      memset(mh, 0, sizeof *mh);
      mh->msg_iov = &u->iovs[n];
      mh->msg_iovlen = 1;
      n++;
    }
    int32_t i = 0;
    while (i < n) {
      int r = sendmmsg(u->fd, u->msgs + i, (unsigned)(n - i), MSG_DONTWAIT);
      st[TSN_TXS_SYSCALLS]++;
      if (r < 0) {
        int e = errno;
        if (e == EINTR) continue;
        if (tsn_txs_drop_for(e) == TSN_TXS_DROP_DOWN) {
          /* The parent is down or gone: the rest of the burst would fail the same way, one syscall each. */
          count_send_error(st, e, (n - i) + (count - base - chunk));
          st[TSN_TXS_SENT] = sent;
          napi_value res;
          napi_create_int32(env, sent, &res);
          return res;
        }
        count_send_error(st, e, 1);
        i++;
        continue;
      }
      sent += r;
      i += r;
    }
  }
  st[TSN_TXS_SENT] = sent;
  napi_value res;
  napi_create_int32(env, sent, &res);
  return res;
}

/*
 * packetStats(handle) -> { packets, drops }
 * The kernel's counters since the last call (reading resets them): frames that passed the filter, and
 * those it dropped because the socket's receive queue was full.
 * Syscall: getsockopt(PACKET_STATISTICS).
 */
static napi_value packet_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    tsn_throw_code(env, "ERR_MISSING_ARGS", "packetStats(handle)");
    return NULL;
  }
  tsn_uplink *u = uplink_get(env, argv[0]);
  if (!u) return NULL;
  struct tpacket_stats ts;
  socklen_t len = sizeof ts;
  if (getsockopt(u->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &len) < 0) {
    tsn_throw_errno(env, "getsockopt", "PACKET_STATISTICS", errno);
    return NULL;
  }
  napi_value res, v;
  TSN_CALL(env, napi_create_object(env, &res));
  napi_create_double(env, ts.tp_packets, &v);
  napi_set_named_property(env, res, "packets", v);
  napi_create_double(env, ts.tp_drops, &v);
  napi_set_named_property(env, res, "drops", v);
  return res;
}

napi_value tsn_af_packet_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"packetOpen", NULL, packet_open, NULL, NULL, NULL, napi_default, NULL},
      {"packetClose", NULL, packet_close, NULL, NULL, NULL, napi_default, NULL},
      {"packetMembership", NULL, packet_membership, NULL, NULL, NULL, napi_default, NULL},
      {"packetSetFilter", NULL, packet_set_filter, NULL, NULL, NULL, napi_default, NULL},
      {"packetFilterProgram", NULL, packet_filter_program, NULL, NULL, NULL, napi_default, NULL},
      {"packetRecvBurst", NULL, packet_recv_burst, NULL, NULL, NULL, napi_default, NULL},
      {"packetSendBurst", NULL, packet_send_burst, NULL, NULL, NULL, napi_default, NULL},
      {"packetStats", NULL, packet_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
