/*
 * netlink.c - a small rtnetlink client: links, addresses and routes, in any network namespace.
 *
 * The control plane plumbs container namespaces with this instead of running `ip` and parsing its
 * text. A NETLINK_ROUTE socket acts on the namespace it was created in, so nlOpen(path) steps into
 * the namespace (netns.c) just long enough to create the socket; every later request on that
 * descriptor, made from our own namespace, lands there.
 *
 * One request at a time, synchronously, on the caller's thread: the kernel handles a "do" request
 * inside sendto() and has the reply queued before we read it; a dump is produced as we read it.
 * - "do" requests carry NLM_F_ACK: we read until the NLMSG_ERROR carrying our sequence number;
 *   error 0 is the ACK, a negative one becomes a JS error (.code = errno name, .errno, .syscall =
 *   the request, e.g. 'RTM_NEWADDR') whose message names the operation and the interface, plus the
 *   kernel's own explanation when it gives one (NETLINK_EXT_ACK, e.g. "MTU too large").
 * - Dumps (NLM_F_DUMP) end with NLMSG_DONE. A dump that raced with a change comes back flagged
 *   NLM_F_DUMP_INTR and is retried, so a list is never a mix of before and after.
 * - Replies with another sequence number are left-overs of an earlier request abandoned half-read
 *   and are skipped, so the socket never gets out of step.
 * - The socket is connect()ed to the kernel (nl_pid 0): it lives in a container's namespace, where
 *   any process with a netlink socket could otherwise send to it, keep our reply loop waiting or
 *   fill the receive queue until the kernel's ACK is lost. A connected netlink socket takes unicasts
 *   from its peer only (others get ECONNREFUSED). The whole exchange is bounded by one deadline
 *   (NL_DEADLINE_MS), not a timeout per read that every arrival restarts.
 * NETLINK_CAP_ACK keeps error replies small (no echo of our request).
 *
 * Addresses are handled through a family-tagged tsn_ip. Adding and deleting addresses and routes
 * takes IPv4 and IPv6 ('::' with prefix 0 is the IPv6 default route); an IPv6 address is added with
 * IFA_F_NODAD, as Docker does, so it is usable at once. The dumps (addresses, routes) list IPv4 only.
 *
 * Syscalls: socket(2), bind(2), connect(2), setsockopt(2), sendto(2), poll(2), recvmsg(2),
 * clock_gettime(2), open(2)/close(2) of a netns
 * file for IFLA_NET_NS_FD; setns(2) via netns.c.
 */
#define _GNU_SOURCE
#include "netlink.h"
#include "errors.h"
#include "netns.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

/* Netlink wants a receive buffer of at least 8 KiB or a page; 32 KiB or more is recommended. */
#define NL_BUFSIZ 65536
/* Our requests are a header and a handful of short attributes. */
#define NL_REQSIZ 512
/* A dump interrupted by concurrent changes this many times in a row gives up (EAGAIN). */
#define NL_DUMP_TRIES 5
/* One request's whole exchange (send, every reply, the ACK or DONE) must end within this: a reply
 * that never comes must not hang the event loop, however many other messages arrive meanwhile. */
#define NL_DEADLINE_MS 10000

/* ------------------------------------------------------------------------------------------------ */
/* Requests                                                                                          */

typedef struct {
  union {
    struct nlmsghdr nh;
    char buf[NL_REQSIZ];
  } u;
  bool overflow;
} nl_msg;

/* An IP address of either family; len is 4 or 16. */
typedef struct {
  int family;
  unsigned len;
  uint8_t bytes[16];
} tsn_ip;

/*
 * nl_msg_init() - Start a request: netlink header plus a zeroed family header
 * @m:		Request to fill
 * @type:	RTM_* message type
 * @flags:	NLM_F_* flags besides NLM_F_REQUEST (NLM_F_ACK is added by nl_talk() for non-dumps)
 * @hdrlen:	Size of the family header (struct ifinfomsg, ifaddrmsg, rtmsg)
 *
 * Return: pointer to the family header
 */
static void *nl_msg_init(nl_msg *m, uint16_t type, uint16_t flags, size_t hdrlen) {
  memset(m, 0, sizeof *m);
  m->u.nh.nlmsg_len = NLMSG_LENGTH(hdrlen);
  m->u.nh.nlmsg_type = type;
  m->u.nh.nlmsg_flags = NLM_F_REQUEST | flags;
  return NLMSG_DATA(&m->u.nh);
}

/*
 * nl_put() - Append an attribute to a request
 * @m:		Request
 * @type:	Attribute type (IFLA_*, IFA_*, RTA_*)
 * @data:	Payload
 * @len:	Payload length
 *
 * Sets m->overflow instead of writing past the buffer; nl_talk() then refuses to send.
 */
static void nl_put(nl_msg *m, uint16_t type, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(m->u.nh.nlmsg_len);
  if (off + RTA_SPACE(len) > sizeof m->u.buf) {
    m->overflow = true;
    return;
  }
  struct rtattr *rta = (struct rtattr *)(m->u.buf + off);
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(rta), data, len);
  m->u.nh.nlmsg_len = off + RTA_SPACE(len);
}

static void nl_put_u32(nl_msg *m, uint16_t type, uint32_t v) {
  nl_put(m, type, &v, sizeof v);
}

static void nl_put_str(nl_msg *m, uint16_t type, const char *s) {
  nl_put(m, type, s, strlen(s) + 1);
}

/* ------------------------------------------------------------------------------------------------ */
/* Talking to the kernel                                                                             */

/* Called for each reply message of our request other than the final ACK/DONE; <0 = JS exception. */
typedef int (*nl_cb)(napi_env env, const struct nlmsghdr *nh, void *arg);

typedef struct {
  int err;          /* positive errno, 0 on success */
  const char *sys;  /* the local syscall that failed, or NULL if the kernel answered @err */
  bool js_failed;   /* a callback left a JS exception pending */
  bool intr;        /* a dump reply carried NLM_F_DUMP_INTR */
  char extack[192]; /* the kernel's NLMSGERR_ATTR_MSG, if any */
} nl_result;

static uint32_t nl_seq_next(void) {
  static uint32_t seq;
  return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

/*
 * nl_extack() - Copy the kernel's error string from an NLMSG_ERROR, if it sent one
 * @nh:		The NLMSG_ERROR message
 * @out:	Filled with the NLMSGERR_ATTR_MSG string, or left empty
 * @size:	Size of @out
 */
static void nl_extack(const struct nlmsghdr *nh, char *out, size_t size) {
  if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  const struct nlmsgerr *e = NLMSG_DATA(nh);
  size_t off = NLMSG_HDRLEN + sizeof *e;
  /* Without NLM_F_CAPPED our whole request is echoed after the header copy in struct nlmsgerr. */
  if (!(nh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len > NLMSG_HDRLEN) off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
  if (off >= nh->nlmsg_len) return;
  const struct nlattr *a = (const struct nlattr *)((const char *)nh + off);
  size_t left = nh->nlmsg_len - off;
  while (left >= sizeof *a && a->nla_len >= sizeof *a && a->nla_len <= left) {
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      size_t n = a->nla_len - NLA_HDRLEN;
      if (n >= size) n = size - 1;
      memcpy(out, (const char *)a + NLA_HDRLEN, n);
      out[n] = '\0';
      out[strcspn(out, "\n")] = '\0';
      return;
    }
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= left) break;
    left -= step;
    a = (const struct nlattr *)((const char *)a + step);
  }
}

/* Milliseconds left of the NL_DEADLINE_MS that began at @start (CLOCK_MONOTONIC). Syscall: clock_gettime. */
static int nl_ms_left(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ms = (long long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
  return ms >= NL_DEADLINE_MS ? 0 : (int)(NL_DEADLINE_MS - ms);
}

/*
 * nl_talk() - Send one request, pass each reply message to @cb, until the ACK or NLMSG_DONE
 * @env:	Node-API environment (for @cb)
 * @fd:		NETLINK_ROUTE socket from nlOpen()
 * @m:		Request; NLM_F_DUMP in its flags makes it a dump, otherwise NLM_F_ACK is added
 * @cb:		Called for every reply of ours that is not the ACK/DONE (may be NULL)
 * @arg:	Passed to @cb
 * @r:		Outcome: r->err is 0, a kernel errno (r->sys NULL) or a local one (r->sys names the call)
 *
 * Replies to other sequence numbers (left-overs of an abandoned request) are skipped. After a
 * callback fails, the rest of the replies are still read, so the socket stays in step. The whole
 * exchange ends by NL_DEADLINE_MS after the send (ETIMEDOUT), whatever arrives meanwhile.
 * Syscalls: clock_gettime, sendto, poll, recvmsg
 */
static void nl_talk(napi_env env, int fd, nl_msg *m, nl_cb cb, void *arg, nl_result *r) {
  memset(r, 0, sizeof *r);
  if (m->overflow) {
    r->err = EMSGSIZE;
    r->sys = "sendto";
    return;
  }
  bool dump = (m->u.nh.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) m->u.nh.nlmsg_flags |= NLM_F_ACK;
  uint32_t seq = nl_seq_next();
  m->u.nh.nlmsg_seq = seq;
  m->u.nh.nlmsg_pid = 0;

  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  ssize_t n;
  do n = sendto(fd, m->u.buf, m->u.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    r->err = errno;
    r->sys = "sendto";
    return;
  }

  char *buf = malloc(NL_BUFSIZ);
  if (!buf) {
    r->err = ENOMEM;
    r->sys = "malloc";
    return;
  }
  for (bool done = false; !done;) {
    int ms_left = nl_ms_left(&start);
    if (ms_left <= 0) {
      r->err = ETIMEDOUT;
      r->sys = "recvmsg";
      break;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr = poll(&pfd, 1, ms_left);
    if (pr < 0 && errno != EINTR) {
      r->err = errno;
      r->sys = "poll";
      break;
    }
    if (pr <= 0) continue; /* interrupted, or the deadline: checked above */
    struct sockaddr_nl from;
    struct iovec iov = {.iov_base = buf, .iov_len = NL_BUFSIZ};
    struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    n = recvmsg(fd, &mh, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      r->err = errno;
      r->sys = "recvmsg";
      break;
    }
    if (mh.msg_flags & MSG_TRUNC) {
      r->err = EMSGSIZE;
      r->sys = "recvmsg";
      break;
    }
    if (from.nl_pid != 0) continue; /* not from the kernel */
    size_t left = (size_t)n;
    for (const struct nlmsghdr *nh = (const struct nlmsghdr *)buf; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
      if (nh->nlmsg_seq != seq) continue;
      if (nh->nlmsg_flags & NLM_F_DUMP_INTR) r->intr = true;
      if (nh->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(nh);
        if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof e->error) && e->error < 0) {
          r->err = -e->error;
          nl_extack(nh, r->extack, sizeof r->extack);
        }
        done = true;
        break;
      }
      if (nh->nlmsg_type == NLMSG_DONE) {
        if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int e;
          memcpy(&e, NLMSG_DATA(nh), sizeof e);
          if (e < 0) r->err = -e;
        }
        done = true;
        break;
      }
      if (nh->nlmsg_type < NLMSG_MIN_TYPE) continue; /* NLMSG_NOOP, NLMSG_OVERRUN */
      if (cb && !r->js_failed && cb(env, nh, arg) < 0) r->js_failed = true;
    }
  }
  free(buf);
}

/* ------------------------------------------------------------------------------------------------ */
/* Errors                                                                                            */

static void throw_arg(napi_env env, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void throw_arg(napi_env env, const char *code, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!strcmp(code, "ERR_INVALID_ARG_TYPE")) napi_throw_type_error(env, code, msg);
  else napi_throw_error(env, code, msg);
}

/*
 * nl_throw() - Throw the error in @r
 * @env:	Node-API environment
 * @op:		The request, e.g. "RTM_NEWADDR"
 * @subject:	What it was about, e.g. "10.0.0.2/24 dev eth0 (ifindex 7)"
 * @r:		Outcome of nl_talk() with r->err set
 *
 * The message reads "RTM_NEWADDR 10.0.0.2/24 dev eth0 (ifindex 7): File exists (EEXIST)", with
 * "; kernel: ..." added when the kernel explained itself, or starts with the local syscall
 * ("recvmsg RTM_GETLINK ...") when it was ours that failed. .syscall is that syscall, or the request.
 */
static void nl_throw(napi_env env, const char *op, const char *subject, const nl_result *r) {
  const char *name = strerrorname_np(r->err);
  if (!name) name = "EUNKNOWN";
  char msg[640];
  snprintf(msg, sizeof msg, "%s%s%s%s%s: %s (%s)%s%s", r->sys ? r->sys : "", r->sys ? " " : "", op, *subject ? " " : "", subject,
           strerror(r->err), name, r->extack[0] ? "; kernel: " : "", r->extack);
  napi_value jmsg, jcode, jerrno, jsys, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jcode);
  napi_create_error(env, jcode, jmsg, &error);
  napi_create_int32(env, r->err, &jerrno);
  napi_create_string_utf8(env, r->sys ? r->sys : op, NAPI_AUTO_LENGTH, &jsys);
  napi_set_named_property(env, error, "errno", jerrno);
  napi_set_named_property(env, error, "syscall", jsys);
  napi_throw(env, error);
}

static int link_name_cb(napi_env env, const struct nlmsghdr *nh, void *arg);

/*
 * dev_subject() - Describe an interface for an error message: "dev eth0 (ifindex 7)" or "ifindex 7"
 * @fd:		NETLINK_ROUTE socket (the name is looked up in its namespace)
 * @ifindex:	Interface index
 * @out:	Filled with the description
 * @size:	Size of @out
 *
 * Syscalls: sendto, recvmsg (RTM_GETLINK)
 */
static void dev_subject(napi_env env, int fd, int ifindex, char *out, size_t size) {
  char name[IFNAMSIZ] = "";
  nl_msg m;
  struct ifinfomsg *ifi = nl_msg_init(&m, RTM_GETLINK, 0, sizeof *ifi);
  ifi->ifi_index = ifindex;
  nl_result r;
  nl_talk(env, fd, &m, link_name_cb, name, &r);
  if (!r.err && name[0]) snprintf(out, size, "dev %s (ifindex %d)", name, ifindex);
  else snprintf(out, size, "ifindex %d", ifindex);
}

/* nl_talk(), then throw on failure describing @ifindex (if > 0) after @what. Return: true on success. */
static bool nl_do(napi_env env, int fd, nl_msg *m, const char *op, const char *what, int ifindex, nl_cb cb, void *arg) {
  nl_result r;
  nl_talk(env, fd, m, cb, arg, &r);
  if (r.js_failed) return false;
  if (!r.err) return true;
  char subject[256], dev[64] = "";
  if (ifindex > 0) dev_subject(env, fd, ifindex, dev, sizeof dev);
  snprintf(subject, sizeof subject, "%s%s%s", what ? what : "", what && *what && *dev ? " " : "", dev);
  nl_throw(env, op, subject, &r);
  return false;
}

/* ------------------------------------------------------------------------------------------------ */
/* Arguments                                                                                         */

static bool is_absent(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

/* An integer number in [lo, hi]; errors name @fn and @what. */
static bool int_arg(napi_env env, napi_value v, const char *fn, const char *what, int64_t lo, int64_t hi, int64_t *out) {
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env, v, &t);
  if (t != napi_number) {
    throw_arg(env, "ERR_INVALID_ARG_TYPE", "%s: %s must be a number", fn, what);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi) {
    throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: %s %g is not an integer in %lld..%lld", fn, what, d, (long long)lo, (long long)hi);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool fd_arg(napi_env env, napi_value v, const char *fn, int *fd) {
  int64_t x;
  if (!int_arg(env, v, fn, "fd", 0, INT32_MAX, &x)) return false;
  *fd = (int)x;
  return true;
}

static bool ifindex_arg(napi_env env, napi_value v, const char *fn, int *ifindex) {
  int64_t x;
  if (!int_arg(env, v, fn, "ifindex", 1, INT32_MAX, &x)) return false;
  *ifindex = (int)x;
  return true;
}

/* A string shorter than @size bytes without NUL bytes. */
static bool str_arg(napi_env env, napi_value v, const char *fn, const char *what, char *buf, size_t size) {
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env, v, &t);
  if (t != napi_string) {
    throw_arg(env, "ERR_INVALID_ARG_TYPE", "%s: %s must be a string", fn, what);
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len >= size) {
    char head[48];
    napi_get_value_string_utf8(env, v, head, sizeof head, NULL);
    throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: %s \"%s...\" is longer than %zu bytes", fn, what, head, size - 1);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  if (strlen(buf) != len) {
    throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: %s contains a NUL byte", fn, what);
    return false;
  }
  return true;
}

/*
 * An interface name: 1 to IFNAMSIZ - 1 bytes, no '/', ':' or whitespace (dev_valid_name()), and no
 * '%': the kernel reads "name%d" as a pattern when making a device (TUNSETIFF, RTM_NEWLINK) and picks
 * a free name of its own, so a user's name with '%' would never name the device it meant.
 */
static bool ifname_arg(napi_env env, napi_value v, const char *fn, const char *what, char *buf) {
  char tmp[64];
  if (!str_arg(env, v, fn, what, tmp, sizeof tmp)) return false;
  size_t n = strlen(tmp);
  if (n == 0 || n >= IFNAMSIZ || strpbrk(tmp, "/:% \t\n\v\f\r") || !strcmp(tmp, ".") || !strcmp(tmp, "..")) {
    throw_arg(env, "ERR_INVALID_ARG_VALUE",
              "%s: %s \"%s\" is not an interface name (1 to 15 bytes, no '/', ':', '%%' or whitespace)", fn, what, tmp);
    return false;
  }
  memcpy(buf, tmp, n + 1);
  return true;
}

/*
 * ip_arg() - Parse an IP address string
 * @fn, @what:	Function and argument names for errors
 * @ip:		Filled with family, length and bytes
 *
 * IPv4 (dotted quad) or IPv6 (RFC 4291 text, without a zone).
 */
static bool ip_arg(napi_env env, napi_value v, const char *fn, const char *what, tsn_ip *ip) {
  char s[64];
  if (!str_arg(env, v, fn, what, s, sizeof s)) return false;
  memset(ip, 0, sizeof *ip);
  if (inet_pton(AF_INET, s, ip->bytes) == 1) {
    ip->family = AF_INET;
    ip->len = 4;
    return true;
  }
  if (inet_pton(AF_INET6, s, ip->bytes) == 1) {
    ip->family = AF_INET6;
    ip->len = 16;
    return true;
  }
  throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: %s \"%s\" is neither an IPv4 address (e.g. 10.0.0.2) nor an IPv6 one (e.g. fd00:1::2)", fn, what, s);
  return false;
}

static bool prefix_arg(napi_env env, napi_value v, const char *fn, const tsn_ip *ip, unsigned *plen) {
  int64_t x;
  if (!int_arg(env, v, fn, "prefixLen", 0, ip->len * 8, &x)) return false;
  *plen = (unsigned)x;
  return true;
}

/* "aa:bb:cc:dd:ee:ff", case-insensitive. */
static bool mac_arg(napi_env env, napi_value v, const char *fn, uint8_t mac[6]) {
  char s[32];
  if (!str_arg(env, v, fn, "mac", s, sizeof s)) return false;
  bool ok = strlen(s) == 17;
  for (int i = 0; ok && i < 6; i++) {
    char hex[3] = {s[3 * i], s[3 * i + 1], 0}, *end;
    if ((i < 5 && s[3 * i + 2] != ':') || !isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1])) ok = false;
    else mac[i] = (uint8_t)strtoul(hex, &end, 16);
  }
  if (!ok) throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: mac \"%s\" is not a MAC address (six hex pairs, e.g. 02:42:0a:00:00:02)", fn, s);
  return ok;
}

/* Property @key of @obj, or NULL when it is undefined or null. */
static napi_value opt_prop(napi_env env, napi_value obj, const char *key) {
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || is_absent(env, v)) return NULL;
  return v;
}

static bool obj_arg(napi_env env, napi_value v, const char *fn, const char *what) {
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env, v, &t);
  if (t != napi_object) {
    throw_arg(env, "ERR_INVALID_ARG_TYPE", "%s: %s must be an object", fn, what);
    return false;
  }
  return true;
}

static void ip_format(int family, const void *data, char *out, size_t size) {
  if (!inet_ntop(family, data, out, size)) snprintf(out, size, "?");
}

/* ------------------------------------------------------------------------------------------------ */
/* Building results                                                                                 */

#define JS_TRY(call)             \
  do {                           \
    if ((call) != napi_ok) return -1; \
  } while (0)

static int set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value v;
  JS_TRY(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
  JS_TRY(napi_set_named_property(env, obj, key, v));
  return 0;
}

static int set_num(napi_env env, napi_value obj, const char *key, double d) {
  napi_value v;
  JS_TRY(napi_create_double(env, d, &v));
  JS_TRY(napi_set_named_property(env, obj, key, v));
  return 0;
}

static int set_bool(napi_env env, napi_value obj, const char *key, bool b) {
  napi_value v;
  JS_TRY(napi_get_boolean(env, b, &v));
  JS_TRY(napi_set_named_property(env, obj, key, v));
  return 0;
}

/* A JS array that dump callbacks append to. */
typedef struct {
  napi_value arr;
  uint32_t n;
  int ifindex; /* nlAddrList: only this interface (0 = all) */
  int family;  /* nlAddrList: AF_INET (default) or AF_INET6 */
} js_list;

static int list_push(napi_env env, js_list *l, napi_value v) {
  JS_TRY(napi_set_element(env, l->arr, l->n, v));
  l->n++;
  return 0;
}

/* Copy a string attribute (NUL-terminated or not) into @out. */
static void rta_str(const struct rtattr *rta, char *out, size_t size) {
  size_t n = RTA_PAYLOAD(rta);
  if (n >= size) n = size - 1;
  memcpy(out, RTA_DATA(rta), n);
  out[n] = '\0';
}

static uint32_t rta_u32(const struct rtattr *rta) {
  uint32_t v = 0;
  if (RTA_PAYLOAD(rta) >= sizeof v) memcpy(&v, RTA_DATA(rta), sizeof v);
  return v;
}

/* ------------------------------------------------------------------------------------------------ */
/* Socket                                                                                            */

/*
 * nl_socket() - Create and set up a NETLINK_ROUTE socket in the thread's current namespace
 * @sys:	Set to the failing syscall on error
 *
 * The socket is connected to the kernel (nl_pid 0), so no other process in the namespace can send
 * to it (see the file comment).
 *
 * Return: the socket (blocking, close-on-exec), or -errno
 * Syscalls: socket, bind, connect, setsockopt(NETLINK_CAP_ACK, NETLINK_EXT_ACK), close
 */
static int nl_socket(const char **sys) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    *sys = "socket";
    return -errno;
  }
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int e = errno;
    close(fd);
    *sys = "bind";
    return -e;
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK, .nl_pid = 0};
  if (connect(fd, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    int e = errno;
    close(fd);
    *sys = "connect";
    return -e;
  }
  int one = 1;
  /* Both are optional niceties (short error replies, the kernel's explanations): ignore failures. */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  return fd;
}

/*
 * nlOpen(netnsPath?: string | null) -> fd
 * A NETLINK_ROUTE socket bound to the namespace at @netnsPath (or to ours): every request on it acts
 * there. Close it with closeFd().
 * Syscalls: open, setns (netns.c, with a path); socket, bind, connect, setsockopt
 */
static napi_value nl_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[PATH_MAX];
  if (!tsn_netns_path_arg(env, argc ? argv[0] : NULL, "nlOpen: netnsPath", path, sizeof path)) return NULL;
  int saved;
  if (!tsn_netns_enter_js(env, path, &saved)) return NULL;
  const char *sys = NULL;
  int fd = nl_socket(&sys);
  tsn_netns_leave_js(saved);
  if (fd < 0) {
    tsn_throw_errno(env, sys, "NETLINK_ROUTE", -fd);
    return NULL;
  }
  napi_value res;
  TSN_CALL(env, napi_create_int32(env, fd, &res));
  return res;
}

/* ------------------------------------------------------------------------------------------------ */
/* Links                                                                                             */

static int link_name_cb(napi_env env, const struct nlmsghdr *nh, void *arg) {
  char *name = arg;
  if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) return 0;
  const struct ifinfomsg *ifi = NLMSG_DATA(nh);
  int left = (int)IFLA_PAYLOAD(nh);
  for (const struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, left); rta = RTA_NEXT(rta, left))
    if (rta->rta_type == IFLA_IFNAME) rta_str(rta, name, IFNAMSIZ);
  return 0;
}

static int link_index_cb(napi_env env, const struct nlmsghdr *nh, void *arg) {
  if (nh->nlmsg_type == RTM_NEWLINK && nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
    *(int *)arg = ((const struct ifinfomsg *)NLMSG_DATA(nh))->ifi_index;
  return 0;
}

/*
 * nlLinkIndex(fd, ifname) -> ifindex, or 0 if there is no such link
 * Syscalls: sendto, recvmsg (RTM_GETLINK with IFLA_IFNAME)
 */
static napi_value nl_link_index(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  char name[IFNAMSIZ];
  if (!fd_arg(env, argv[0], "nlLinkIndex", &fd) || !ifname_arg(env, argv[1], "nlLinkIndex", "ifname", name)) return NULL;
  nl_msg m;
  nl_msg_init(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
  nl_put_str(&m, IFLA_IFNAME, name);
  int index = 0;
  nl_result r;
  nl_talk(env, fd, &m, link_index_cb, &index, &r);
  if (r.err && r.err != ENODEV) {
    char what[64];
    snprintf(what, sizeof what, "dev %s", name);
    nl_throw(env, "RTM_GETLINK", what, &r);
    return NULL;
  }
  napi_value res;
  TSN_CALL(env, napi_create_int32(env, r.err ? 0 : index, &res));
  return res;
}

/*
 * nlLinkSet(fd, ifindex, { name?, mac?, mtu?, gsoMaxSegs?, up? })
 * Renames, sets the MAC address and the MTU, and brings the link up or down, in one request. The
 * kernel applies the address, the MTU and the name before the up/down flag, so a link can be renamed
 * and brought up at once (older kernels refuse to rename a link that is already up: EBUSY).
 * gsoMaxSegs caps the segments of the link's GSO super-frames (IFLA_GSO_MAX_SEGS; the overlay driver
 * sizes a container's TSO frames to one UDP_SEGMENT message).
 * Syscalls: sendto, recvmsg (RTM_NEWLINK: IFLA_IFNAME, IFLA_ADDRESS, IFLA_MTU, IFLA_GSO_MAX_SEGS, ifi_flags/ifi_change IFF_UP)
 */
static napi_value nl_link_set(napi_env env, napi_callback_info info) {
  const char *fn = "nlLinkSet";
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex;
  if (!fd_arg(env, argv[0], fn, &fd) || !ifindex_arg(env, argv[1], fn, &ifindex) || !obj_arg(env, argv[2], fn, "attrs")) return NULL;

  nl_msg m;
  struct ifinfomsg *ifi = nl_msg_init(&m, RTM_NEWLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  char what[160] = "", *w = what;
  size_t wl = sizeof what;
#define WHAT(...)                                  \
  do {                                             \
    int k_ = snprintf(w, wl, __VA_ARGS__);         \
    if (k_ > 0 && (size_t)k_ < wl) w += k_, wl -= k_; \
  } while (0)

  napi_value v;
  if ((v = opt_prop(env, argv[2], "name"))) {
    char name[IFNAMSIZ];
    if (!ifname_arg(env, v, fn, "name", name)) return NULL;
    nl_put_str(&m, IFLA_IFNAME, name);
    WHAT("%sname %s", w == what ? "" : " ", name);
  }
  if ((v = opt_prop(env, argv[2], "mac"))) {
    uint8_t mac[6];
    if (!mac_arg(env, v, fn, mac)) return NULL;
    nl_put(&m, IFLA_ADDRESS, mac, sizeof mac);
    WHAT("%saddress %02x:%02x:%02x:%02x:%02x:%02x", w == what ? "" : " ", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  }
  if ((v = opt_prop(env, argv[2], "mtu"))) {
    int64_t mtu;
    if (!int_arg(env, v, fn, "mtu", 1, UINT32_MAX, &mtu)) return NULL;
    nl_put_u32(&m, IFLA_MTU, (uint32_t)mtu);
    WHAT("%smtu %lld", w == what ? "" : " ", (long long)mtu);
  }
  if ((v = opt_prop(env, argv[2], "gsoMaxSegs"))) {
    int64_t segs;
    if (!int_arg(env, v, fn, "gsoMaxSegs", 1, 65535, &segs)) return NULL;
    nl_put_u32(&m, IFLA_GSO_MAX_SEGS, (uint32_t)segs);
    WHAT("%sgso_max_segs %lld", w == what ? "" : " ", (long long)segs);
  }
  if ((v = opt_prop(env, argv[2], "addrGenMode"))) {
    /* IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE u8 } }: 0 eui64, 1 none, 2 stable, 3 random. */
    int64_t mode;
    if (!int_arg(env, v, fn, "addrGenMode", 0, 3, &mode)) return NULL;
    unsigned short spec = (unsigned short)m.u.nh.nlmsg_len;
    nl_put(&m, IFLA_AF_SPEC, NULL, 0);
    unsigned short inet6 = (unsigned short)m.u.nh.nlmsg_len;
    nl_put(&m, AF_INET6, NULL, 0);
    uint8_t mode8 = (uint8_t)mode;
    nl_put(&m, IFLA_INET6_ADDR_GEN_MODE, &mode8, 1);
    /* Close the two nests: each length runs to the end of what was put inside it. */
    ((struct rtattr *)((char *)&m.u.nh + inet6))->rta_len = (unsigned short)(m.u.nh.nlmsg_len - inet6);
    ((struct rtattr *)((char *)&m.u.nh + spec))->rta_len = (unsigned short)(m.u.nh.nlmsg_len - spec);
    WHAT("%saddrgenmode %lld", w == what ? "" : " ", (long long)mode);
  }
  if ((v = opt_prop(env, argv[2], "up"))) {
    bool up;
    if (napi_get_value_bool(env, v, &up) != napi_ok) {
      throw_arg(env, "ERR_INVALID_ARG_TYPE", "%s: up must be a boolean", fn);
      return NULL;
    }
    ifi->ifi_flags = up ? IFF_UP : 0;
    ifi->ifi_change = IFF_UP;
    WHAT("%s%s", w == what ? "" : " ", up ? "up" : "down");
  }
#undef WHAT
  nl_do(env, fd, &m, "RTM_NEWLINK", what, ifindex, NULL, NULL);
  return NULL;
}

/*
 * nlLinkSetNetns(fd, ifindex, netnsPath)
 * Moves the link into the namespace at @netnsPath (it keeps its name there unless that is taken:
 * EEXIST). Its addresses and routes do not move with it.
 * Syscalls: open, close (the namespace file); sendto, recvmsg (RTM_NEWLINK with IFLA_NET_NS_FD)
 */
static napi_value nl_link_set_netns(napi_env env, napi_callback_info info) {
  const char *fn = "nlLinkSetNetns";
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex;
  char path[PATH_MAX];
  if (!fd_arg(env, argv[0], fn, &fd) || !ifindex_arg(env, argv[1], fn, &ifindex) ||
      !str_arg(env, argv[2], fn, "netnsPath", path, sizeof path))
    return NULL;
  if (!path[0]) {
    throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: netnsPath is empty", fn);
    return NULL;
  }
  int nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    char what[PATH_MAX + 8];
    snprintf(what, sizeof what, "netns %s", path);
    tsn_throw_errno(env, "open", what, errno);
    return NULL;
  }
  nl_msg m;
  struct ifinfomsg *ifi = nl_msg_init(&m, RTM_NEWLINK, 0, sizeof *ifi);
  ifi->ifi_index = ifindex;
  nl_put_u32(&m, IFLA_NET_NS_FD, (uint32_t)nsfd);
  char what[PATH_MAX + 8];
  snprintf(what, sizeof what, "netns %s", path);
  nl_do(env, fd, &m, "RTM_NEWLINK", what, ifindex, NULL, NULL);
  close(nsfd);
  return NULL;
}

/*
 * nlLinkDel(fd, ifindex)
 * Deletes the link (a TAP still held open by a descriptor goes too; the descriptor then fails).
 * Syscalls: sendto, recvmsg (RTM_DELLINK)
 */
static napi_value nl_link_del(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex;
  if (!fd_arg(env, argv[0], "nlLinkDel", &fd) || !ifindex_arg(env, argv[1], "nlLinkDel", &ifindex)) return NULL;
  nl_msg m;
  struct ifinfomsg *ifi = nl_msg_init(&m, RTM_DELLINK, 0, sizeof *ifi);
  ifi->ifi_index = ifindex;
  /* No name lookup for the message: after a failed delete it would usually fail the same way. */
  char what[32];
  snprintf(what, sizeof what, "ifindex %d", ifindex);
  nl_do(env, fd, &m, "RTM_DELLINK", what, 0, NULL, NULL);
  return NULL;
}

typedef struct {
  napi_value obj;
  bool found;
} link_info;

static int link_info_cb(napi_env env, const struct nlmsghdr *nh, void *arg) {
  link_info *li = arg;
  if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) || li->found) return 0;
  const struct ifinfomsg *ifi = NLMSG_DATA(nh);
  char name[IFNAMSIZ] = "", mac[3 * 32] = "", kind[32] = "";
  uint32_t mtu = 0, promiscuity = 0;
  int carrier = -1;
  int left = (int)IFLA_PAYLOAD(nh);
  for (const struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
    switch (rta->rta_type) {
    case IFLA_IFNAME:
      rta_str(rta, name, sizeof name);
      break;
    case IFLA_ADDRESS: {
      const uint8_t *b = RTA_DATA(rta);
      size_t n = RTA_PAYLOAD(rta);
      if (n > 32) n = 32;
      for (size_t i = 0, o = 0; i < n; i++) o += (size_t)snprintf(mac + o, sizeof mac - o, "%s%02x", i ? ":" : "", b[i]);
      break;
    }
    case IFLA_MTU:
      mtu = rta_u32(rta);
      break;
    case IFLA_PROMISCUITY: /* how many users asked for promiscuous mode, the kernel's own fallbacks included */
      promiscuity = rta_u32(rta);
      break;
    case IFLA_CARRIER:
      if (RTA_PAYLOAD(rta) >= 1) carrier = *(const uint8_t *)RTA_DATA(rta);
      break;
    case IFLA_LINKINFO: {
      int nleft = (int)RTA_PAYLOAD(rta);
      for (const struct rtattr *n = RTA_DATA(rta); RTA_OK(n, nleft); n = RTA_NEXT(n, nleft))
        if (n->rta_type == IFLA_INFO_KIND) rta_str(n, kind, sizeof kind);
      break;
    }
    }
  }
  if (carrier < 0) carrier = !!(ifi->ifi_flags & IFF_LOWER_UP);
  JS_TRY(napi_create_object(env, &li->obj));
  if (set_num(env, li->obj, "index", ifi->ifi_index) || set_str(env, li->obj, "name", name) || set_str(env, li->obj, "mac", mac) ||
      set_num(env, li->obj, "mtu", mtu) || set_num(env, li->obj, "promiscuity", promiscuity) || set_bool(env, li->obj, "up", ifi->ifi_flags & IFF_UP) ||
      set_bool(env, li->obj, "carrier", carrier) || (kind[0] && set_str(env, li->obj, "kind", kind)))
    return -1;
  li->found = true;
  return 0;
}

/*
 * nlLinkInfo(fd, ifindex) -> { index, name, mac, mtu, promiscuity, up, carrier, kind? }
 * mac is '' for a link without a hardware address; kind comes from IFLA_INFO_KIND ('tun', 'veth',
 * 'bridge', ...) and is absent for links without one (loopback, most physical NICs). carrier is
 * IFLA_CARRIER (IFF_LOWER_UP on kernels without it). A missing link throws ENODEV.
 * Syscalls: sendto, recvmsg (RTM_GETLINK)
 */
static napi_value nl_link_info(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex;
  if (!fd_arg(env, argv[0], "nlLinkInfo", &fd) || !ifindex_arg(env, argv[1], "nlLinkInfo", &ifindex)) return NULL;
  nl_msg m;
  struct ifinfomsg *ifi = nl_msg_init(&m, RTM_GETLINK, 0, sizeof *ifi);
  ifi->ifi_index = ifindex;
  /* Leave out the statistics blocks: we do not report them. */
  nl_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  link_info li = {0};
  char what[32];
  snprintf(what, sizeof what, "ifindex %d", ifindex);
  if (!nl_do(env, fd, &m, "RTM_GETLINK", what, 0, link_info_cb, &li)) return NULL;
  if (!li.found) {
    nl_result r = {.err = ENODEV};
    nl_throw(env, "RTM_GETLINK", what, &r);
    return NULL;
  }
  return li.obj;
}

/* ------------------------------------------------------------------------------------------------ */
/* Addresses                                                                                         */

/*
 * addr_change() - nlAddrAdd / nlAddrDel: (fd, ifindex, address, prefixLen)
 * @type:	RTM_NEWADDR (with NLM_F_CREATE | NLM_F_EXCL: a duplicate is EEXIST) or RTM_DELADDR
 *
 * IFA_LOCAL and IFA_ADDRESS carry the address (they differ only on point-to-point links), and for
 * IPv4 prefixes shorter than /31 IFA_BROADCAST the subnet's broadcast address, as `ip addr add ...
 * brd +` would. Adding also installs the kernel's prefix route for the subnet.
 * Syscalls: sendto, recvmsg (RTM_NEWADDR or RTM_DELADDR)
 */
static napi_value addr_change(napi_env env, napi_callback_info info, uint16_t type, const char *fn) {
  size_t argc = 4;
  napi_value argv[4] = {NULL, NULL, NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex;
  tsn_ip ip;
  unsigned plen;
  if (!fd_arg(env, argv[0], fn, &fd) || !ifindex_arg(env, argv[1], fn, &ifindex) || !ip_arg(env, argv[2], fn, "address", &ip) ||
      !prefix_arg(env, argv[3], fn, &ip, &plen))
    return NULL;
  nl_msg m;
  struct ifaddrmsg *ifa = nl_msg_init(&m, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof *ifa);
  ifa->ifa_family = ip.family;
  ifa->ifa_prefixlen = plen;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = ifindex;
  nl_put(&m, IFA_LOCAL, ip.bytes, ip.len);
  nl_put(&m, IFA_ADDRESS, ip.bytes, ip.len);
  if (ip.family == AF_INET && type == RTM_NEWADDR && plen < 31) {
    uint32_t a;
    memcpy(&a, ip.bytes, 4);
    uint32_t host = plen ? (0xffffffffu >> plen) : 0xffffffffu;
    uint32_t brd = a | htonl(host);
    nl_put(&m, IFA_BROADCAST, &brd, 4);
  }
  if (ip.family == AF_INET6 && type == RTM_NEWADDR) {
    ifa->ifa_flags = IFA_F_NODAD; /* no duplicate detection: the switch's IPAM hands each address out once */
    nl_put_u32(&m, IFA_FLAGS, IFA_F_NODAD);
  }
  char addr[INET6_ADDRSTRLEN], what[80];
  ip_format(ip.family, ip.bytes, addr, sizeof addr);
  snprintf(what, sizeof what, "%s/%u", addr, plen);
  nl_do(env, fd, &m, type == RTM_NEWADDR ? "RTM_NEWADDR" : "RTM_DELADDR", what, ifindex, NULL, NULL);
  return NULL;
}

/* nlAddrAdd(fd, ifindex, address, prefixLen). Syscalls: sendto, recvmsg (RTM_NEWADDR) */
static napi_value nl_addr_add(napi_env env, napi_callback_info info) {
  return addr_change(env, info, RTM_NEWADDR, "nlAddrAdd");
}

/* nlAddrDel(fd, ifindex, address, prefixLen): a missing address is EADDRNOTAVAIL. Syscalls: sendto, recvmsg (RTM_DELADDR) */
static napi_value nl_addr_del(napi_env env, napi_callback_info info) {
  return addr_change(env, info, RTM_DELADDR, "nlAddrDel");
}

static int addr_list_cb(napi_env env, const struct nlmsghdr *nh, void *arg) {
  js_list *l = arg;
  if (nh->nlmsg_type != RTM_NEWADDR || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg))) return 0;
  const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
  if (ifa->ifa_family != l->family) return 0;
  if (l->ifindex && (int)ifa->ifa_index != l->ifindex) return 0;
  const void *local = NULL, *address = NULL;
  int left = (int)IFA_PAYLOAD(nh);
  for (const struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
    if (RTA_PAYLOAD(rta) < (ifa->ifa_family == AF_INET6 ? 16u : 4u)) continue;
    if (rta->rta_type == IFA_LOCAL) local = RTA_DATA(rta);
    else if (rta->rta_type == IFA_ADDRESS) address = RTA_DATA(rta);
  }
  const void *a = local ? local : address;
  if (!a) return 0;
  char s[INET6_ADDRSTRLEN];
  ip_format(ifa->ifa_family, a, s, sizeof s);
  napi_value o;
  JS_TRY(napi_create_object(env, &o));
  if (set_num(env, o, "index", ifa->ifa_index) || set_str(env, o, "address", s) || set_num(env, o, "prefixLen", ifa->ifa_prefixlen))
    return -1;
  return list_push(env, l, o);
}

/*
 * nl_dump() - Run a dump into a fresh JS array, again if the kernel flags it inconsistent
 * @m:		Request (NLM_F_DUMP set); re-sent as is on a retry
 * @op:		Request name for errors
 * @cb:		Appends one element per message to the js_list
 * @l:		List; l->arr is (re)created here
 *
 * Return: the array, or NULL with a pending exception (EAGAIN after NL_DUMP_TRIES interrupted dumps)
 * Syscalls: sendto, recvmsg
 */
static napi_value nl_dump(napi_env env, int fd, nl_msg *m, const char *op, nl_cb cb, js_list *l) {
  nl_result r;
  for (int tries = 0; tries < NL_DUMP_TRIES; tries++) {
    TSN_CALL(env, napi_create_array(env, &l->arr));
    l->n = 0;
    nl_talk(env, fd, m, cb, l, &r);
    if (r.js_failed) return NULL;
    if (r.err) break;
    if (!r.intr) return l->arr;
  }
  if (!r.err) r.err = EAGAIN, snprintf(r.extack, sizeof r.extack, "dump interrupted by concurrent changes %d times", NL_DUMP_TRIES);
  nl_throw(env, op, "dump", &r);
  return NULL;
}

/*
 * nlAddrList(fd, ifindex?, family?: 4 | 6 = 4) -> [{ index, address, prefixLen }]
 * The IPv4 (family 6: IPv6) addresses of every link, or of link @ifindex. address is IFA_LOCAL (the
 * address itself, not the peer of a point-to-point link).
 * Syscalls: sendto, recvmsg (RTM_GETADDR dump)
 */
static napi_value nl_addr_list(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex = 0;
  int64_t fam = 4;
  if (!fd_arg(env, argv[0], "nlAddrList", &fd)) return NULL;
  if (!is_absent(env, argv[1]) && !ifindex_arg(env, argv[1], "nlAddrList", &ifindex)) return NULL;
  if (!is_absent(env, argv[2]) && !int_arg(env, argv[2], "nlAddrList", "family", 4, 6, &fam)) return NULL;
  if (fam == 5) {
    throw_arg(env, "ERR_INVALID_ARG_VALUE", "nlAddrList: family 5: expected 4 or 6");
    return NULL;
  }
  nl_msg m;
  struct ifaddrmsg *ifa = nl_msg_init(&m, RTM_GETADDR, NLM_F_DUMP, sizeof *ifa);
  ifa->ifa_family = fam == 6 ? AF_INET6 : AF_INET;
  js_list l = {.ifindex = ifindex, .family = ifa->ifa_family};
  return nl_dump(env, fd, &m, "RTM_GETADDR", addr_list_cb, &l);
}

/* ------------------------------------------------------------------------------------------------ */
/* Routes                                                                                            */

/*
 * route_change() - nlRouteAdd / nlRouteDel: (fd, { dst, prefixLen, gateway?, ifindex? })
 * @type:	RTM_NEWROUTE (NLM_F_CREATE | NLM_F_EXCL; a duplicate is EEXIST) or RTM_DELROUTE
 *
 * Main table. Adding: proto static, type unicast, scope universe via a gateway, scope link without.
 * Deleting leaves protocol, type and scope (RT_SCOPE_NOWHERE) as wildcards, as `ip route del` does,
 * so the route is matched by destination and by the gateway and interface when given. Adding needs
 * a gateway, an ifindex, or both.
 * Syscalls: sendto, recvmsg (RTM_NEWROUTE or RTM_DELROUTE: RTA_DST, RTA_GATEWAY, RTA_OIF)
 */
static napi_value route_change(napi_env env, napi_callback_info info, uint16_t type, const char *fn) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex = 0;
  tsn_ip dst, gw = {0};
  unsigned plen;
  if (!fd_arg(env, argv[0], fn, &fd) || !obj_arg(env, argv[1], fn, "route")) return NULL;
  napi_value v;
  TSN_CALL(env, napi_get_named_property(env, argv[1], "dst", &v));
  if (!ip_arg(env, v, fn, "dst", &dst)) return NULL;
  TSN_CALL(env, napi_get_named_property(env, argv[1], "prefixLen", &v));
  if (!prefix_arg(env, v, fn, &dst, &plen)) return NULL;
  if ((v = opt_prop(env, argv[1], "gateway")) && !ip_arg(env, v, fn, "gateway", &gw)) return NULL;
  if ((v = opt_prop(env, argv[1], "ifindex")) && !ifindex_arg(env, v, fn, &ifindex)) return NULL;
  if (gw.family && gw.family != dst.family) {
    throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: gateway and dst must be of the same address family", fn);
    return NULL;
  }
  if (type == RTM_NEWROUTE && !gw.family && !ifindex) {
    throw_arg(env, "ERR_INVALID_ARG_VALUE", "%s: a route needs a gateway, an ifindex, or both", fn);
    return NULL;
  }

  nl_msg m;
  struct rtmsg *rtm = nl_msg_init(&m, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof *rtm);
  rtm->rtm_family = dst.family;
  rtm->rtm_dst_len = plen;
  rtm->rtm_table = RT_TABLE_MAIN;
  if (type == RTM_NEWROUTE) {
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_type = RTN_UNICAST;
    rtm->rtm_scope = gw.family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  } else {
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
  }
  if (plen) nl_put(&m, RTA_DST, dst.bytes, dst.len);
  if (gw.family) nl_put(&m, RTA_GATEWAY, gw.bytes, gw.len);
  if (ifindex) nl_put_u32(&m, RTA_OIF, (uint32_t)ifindex);

  char d[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN] = "", what[128];
  ip_format(dst.family, dst.bytes, d, sizeof d);
  if (gw.family) ip_format(gw.family, gw.bytes, g, sizeof g);
  if (plen == 0) snprintf(what, sizeof what, "default%s%s", g[0] ? " via " : "", g);
  else snprintf(what, sizeof what, "%s/%u%s%s", d, plen, g[0] ? " via " : "", g);
  nl_do(env, fd, &m, type == RTM_NEWROUTE ? "RTM_NEWROUTE" : "RTM_DELROUTE", what, ifindex, NULL, NULL);
  return NULL;
}

/* nlRouteAdd(fd, { dst, prefixLen, gateway?, ifindex? }). Syscalls: sendto, recvmsg (RTM_NEWROUTE) */
static napi_value nl_route_add(napi_env env, napi_callback_info info) {
  return route_change(env, info, RTM_NEWROUTE, "nlRouteAdd");
}

/* nlRouteDel(fd, { dst, prefixLen, gateway?, ifindex? }): no match is ESRCH. Syscalls: sendto, recvmsg (RTM_DELROUTE) */
static napi_value nl_route_del(napi_env env, napi_callback_info info) {
  return route_change(env, info, RTM_DELROUTE, "nlRouteDel");
}

static int route_list_cb(napi_env env, const struct nlmsghdr *nh, void *arg) {
  js_list *l = arg;
  if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) return 0;
  const struct rtmsg *rtm = NLMSG_DATA(nh);
  if (rtm->rtm_family != AF_INET || (rtm->rtm_flags & RTM_F_CLONED)) return 0;
  uint32_t table = rtm->rtm_table, oif = 0;
  uint8_t dst[16] = {0};
  const void *gw = NULL;
  int left = (int)RTM_PAYLOAD(nh);
  for (const struct rtattr *rta = RTM_RTA(rtm); RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
    switch (rta->rta_type) {
    case RTA_TABLE:
      table = rta_u32(rta);
      break;
    case RTA_DST:
      if (RTA_PAYLOAD(rta) >= 4) memcpy(dst, RTA_DATA(rta), 4);
      break;
    case RTA_GATEWAY:
      if (RTA_PAYLOAD(rta) >= 4) gw = RTA_DATA(rta);
      break;
    case RTA_OIF:
      oif = rta_u32(rta);
      break;
    }
  }
  if (table != RT_TABLE_MAIN) return 0;
  char d[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
  ip_format(AF_INET, dst, d, sizeof d);
  napi_value o;
  JS_TRY(napi_create_object(env, &o));
  if (set_str(env, o, "dst", d) || set_num(env, o, "prefixLen", rtm->rtm_dst_len)) return -1;
  if (gw) {
    ip_format(AF_INET, gw, g, sizeof g);
    if (set_str(env, o, "gateway", g)) return -1;
  }
  if (oif && set_num(env, o, "ifindex", oif)) return -1;
  if (set_num(env, o, "table", table)) return -1;
  return list_push(env, l, o);
}

/*
 * nlRouteList(fd) -> [{ dst, prefixLen, gateway?, ifindex?, table }]
 * The IPv4 routes of the main table, the default route as dst '0.0.0.0' prefixLen 0. Every route
 * type is listed (unicast, blackhole, unreachable, ...); cached clones are not. For a multipath
 * route neither gateway nor ifindex is set.
 * Syscalls: sendto, recvmsg (RTM_GETROUTE dump)
 */
static napi_value nl_route_list(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (!fd_arg(env, argv[0], "nlRouteList", &fd)) return NULL;
  nl_msg m;
  struct rtmsg *rtm = nl_msg_init(&m, RTM_GETROUTE, NLM_F_DUMP, sizeof *rtm);
  rtm->rtm_family = AF_INET;
  js_list l = {0};
  return nl_dump(env, fd, &m, "RTM_GETROUTE", route_list_cb, &l);
}

/* ------------------------------------------------------------------------------------------------ */
/* Interface aliases: the marker on every device the daemon makes (src/control/device-marker.ts)    */

/*
 * nlLinkSetAlias(fd, ifindex, alias)
 * Sets the link's alias (`ip link set DEV alias TEXT`; '' clears it). The alias stays with the device
 * across namespace moves and daemon restarts, so a restarted daemon can tell its devices exactly.
 * Syscalls: sendto, recvmsg (RTM_NEWLINK with IFLA_IFALIAS)
 */
static napi_value nl_link_set_alias(napi_env env, napi_callback_info info) {
  const char *fn = "nlLinkSetAlias";
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex;
  char alias[IFALIASZ];
  if (!fd_arg(env, argv[0], fn, &fd) || !ifindex_arg(env, argv[1], fn, &ifindex) || !str_arg(env, argv[2], fn, "alias", alias, sizeof alias))
    return NULL;
  nl_msg m;
  struct ifinfomsg *ifi = nl_msg_init(&m, RTM_NEWLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  nl_put(&m, IFLA_IFALIAS, alias, strlen(alias)); /* the kernel takes the length as given; empty clears */
  nl_do(env, fd, &m, "RTM_NEWLINK", "alias", ifindex, NULL, NULL);
  return NULL;
}

static int link_alias_list_cb(napi_env env, const struct nlmsghdr *nh, void *arg) {
  js_list *l = arg;
  if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) return 0;
  const struct ifinfomsg *ifi = NLMSG_DATA(nh);
  char name[IFNAMSIZ] = "", alias[IFALIASZ] = "", kind[32] = "";
  int left = (int)IFLA_PAYLOAD(nh);
  for (const struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
    if (rta->rta_type == IFLA_IFNAME) rta_str(rta, name, sizeof name);
    else if (rta->rta_type == IFLA_IFALIAS) rta_str(rta, alias, sizeof alias);
    else if (rta->rta_type == IFLA_LINKINFO) {
      int nleft = (int)RTA_PAYLOAD(rta);
      for (const struct rtattr *n = RTA_DATA(rta); RTA_OK(n, nleft); n = RTA_NEXT(n, nleft))
        if (n->rta_type == IFLA_INFO_KIND) rta_str(n, kind, sizeof kind);
    }
  }
  napi_value o;
  JS_TRY(napi_create_object(env, &o));
  if (set_num(env, o, "index", ifi->ifi_index) || set_str(env, o, "name", name) || set_str(env, o, "alias", alias) || set_str(env, o, "kind", kind) ||
      set_bool(env, o, "up", ifi->ifi_flags & IFF_UP))
    return -1;
  return list_push(env, l, o);
}

/*
 * nlLinkAliasList(fd) -> [{ index, name, alias, kind, up }]
 * Every link of the namespace with its alias ('' when it has none) and IFLA_INFO_KIND ('' when none).
 * Syscalls: sendto, recvmsg (RTM_GETLINK dump)
 */
static napi_value nl_link_alias_list(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (!fd_arg(env, argv[0], "nlLinkAliasList", &fd)) return NULL;
  nl_msg m;
  struct ifinfomsg *ifi = nl_msg_init(&m, RTM_GETLINK, NLM_F_DUMP, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  nl_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  js_list l = {0};
  return nl_dump(env, fd, &m, "RTM_GETLINK", link_alias_list_cb, &l);
}

napi_value tsn_netlink_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"nlOpen", NULL, nl_open, NULL, NULL, NULL, napi_default, NULL},
      {"nlLinkIndex", NULL, nl_link_index, NULL, NULL, NULL, napi_default, NULL},
      {"nlLinkSet", NULL, nl_link_set, NULL, NULL, NULL, napi_default, NULL},
      {"nlLinkSetNetns", NULL, nl_link_set_netns, NULL, NULL, NULL, napi_default, NULL},
      {"nlLinkDel", NULL, nl_link_del, NULL, NULL, NULL, napi_default, NULL},
      {"nlLinkInfo", NULL, nl_link_info, NULL, NULL, NULL, napi_default, NULL},
      {"nlAddrAdd", NULL, nl_addr_add, NULL, NULL, NULL, napi_default, NULL},
      {"nlAddrDel", NULL, nl_addr_del, NULL, NULL, NULL, napi_default, NULL},
      {"nlAddrList", NULL, nl_addr_list, NULL, NULL, NULL, napi_default, NULL},
      {"nlRouteAdd", NULL, nl_route_add, NULL, NULL, NULL, napi_default, NULL},
      {"nlRouteDel", NULL, nl_route_del, NULL, NULL, NULL, napi_default, NULL},
      {"nlRouteList", NULL, nl_route_list, NULL, NULL, NULL, napi_default, NULL},
      {"nlLinkSetAlias", NULL, nl_link_set_alias, NULL, NULL, NULL, napi_default, NULL},
      {"nlLinkAliasList", NULL, nl_link_alias_list, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
