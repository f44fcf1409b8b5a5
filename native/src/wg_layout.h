/*
 * wg_layout.h - a WireGuard VTEP's limits, status vector and per-peer stats rows, shared with
 * TypeScript (src/native/addon.ts checks them at load). No Node-API here: wg_dev.h and the C tests
 * under native/test include it.
 */
#ifndef TSN_WG_LAYOUT_H
#define TSN_WG_LAYOUT_H

#define TSN_WG_MAX_PEERS 256
#define TSN_WG_KP_SLOTS 1024      /* keypair slots; a local index's low 10 bits name its slot */
#define TSN_WG_CTRL_MAX 64        /* handshake messages handed to JS per receive burst */
#define TSN_WG_CTRL_STRIDE 160    /* per message: [len u16 LE][src port u16 LE][src ip u32 BE] + up to 152 bytes */
#define TSN_WG_INNER_HDR 36       /* inner IPv4 20 + UDP 8 + VXLAN 8 in front of the inner frame */
#define TSN_WG_OVERHEAD 60        /* outer IPv4 20 + UDP 8 + transport header 16 + Poly1305 tag 16 */

/* Accumulating device counters (Int32Array given to wgOpen). */
enum {
  TSN_WST_RX_BAD_MAC = 0, /* transport messages whose tag did not verify: tampered (wg-bad-mac) */
  TSN_WST_RX_REPLAY,      /* counter already seen or older than the window (wg-replay) */
  TSN_WST_RX_NO_SESSION,  /* receiver index of no live keypair, or an expired one (wg-no-session) */
  TSN_WST_RX_MALFORMED,   /* shorter than its type's length, or an unknown message type (wg-malformed) */
  TSN_WST_RX_BAD_INNER,   /* decrypted, but not IPv4/UDP/VXLAN from the peer's VTEP to ours (wg-bad-inner) */
  TSN_WST_RX_KEEPALIVE,   /* empty transport messages (keepalives), consumed */
  TSN_WST_RX_CTRL,        /* handshake messages handed to JS by the last receive burst (reset per burst) */
  TSN_WST_RX_CTRL_LOST,   /* handshake messages beyond TSN_WG_CTRL_MAX in one burst, dropped */
  TSN_WST_TX_NO_SESSION,  /* datagrams for a peer with no usable keypair: dropped, handshake asked for */
  TSN_WST_TX_UNKNOWN_PEER,/* datagrams for a VTEP address no peer has */
  TSN_WST_ATTENTION,      /* bumped whenever a peer's flags change: JS looks at the peers then */
  TSN_WST_RX_BACKLOG,     /* messages read but not opened yet (no slot was left): the next burst opens them first */
  TSN_WST_COUNT = 12
};

/* Per-peer row of the stats vector (Float64Array given to wgOpen, TSN_WG_MAX_PEERS rows). */
enum {
  TSN_WPS_RX_BYTES = 0, /* UDP payload bytes of authenticated messages received (what wg show counts) */
  TSN_WPS_TX_BYTES,     /* UDP payload bytes of transport messages sent */
  TSN_WPS_LAST_RX,      /* clock ms of the last authenticated transport message (keepalive included) */
  TSN_WPS_LAST_TX,      /* clock ms of the last transport message sent */
  TSN_WPS_LAST_DATA_RX, /* ... carrying data (not a keepalive) */
  TSN_WPS_LAST_DATA_TX,
  TSN_WPS_EP_IP,        /* current endpoint (roams to the source of authenticated messages), host order */
  TSN_WPS_EP_PORT,
  TSN_WPS_FLAGS,        /* TSN_WPF_* */
  TSN_WPS_TX_COUNTER,   /* messages sent with the current keypair */
  TSN_WPS_RX_PACKETS,
  TSN_WPS_TX_PACKETS,
  TSN_WPS_CUR_SLOT,     /* keypair slots of the current, previous and next session, -1 for none */
  TSN_WPS_PREV_SLOT,
  TSN_WPS_NEXT_SLOT,
  TSN_WPS_CUR_BORN,     /* clock ms the current session was installed */
  TSN_WPS_STAGED,       /* frames waiting for a session (wgSendBurst stages them) */
  TSN_WPS_STRIDE = 17
};

#define TSN_WPF_NEED_HANDSHAKE 1 /* a send found no usable keypair */
#define TSN_WPF_REKEY 2          /* the current keypair is due for replacement (time or messages) */
#define TSN_WPF_CONFIRMED 4      /* the responder's next keypair was confirmed by the initiator's first message */

#endif
