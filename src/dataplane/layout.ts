/**
 * The frame pool and descriptor layout shared with the native addon.
 * Must match native/src/layout.h field for field.
 *
 *   slot:  [ headroom (HEADROOM bytes) | frame ... up to FRAME_MAX ]
 *
 * A frame is a row of DESC_STRIDE int32s in a descriptor vector, not an object:
 * its offset in the pool, its length, the virtio-net header fields that travel
 * with it (so TSO super-frames cross the switch unsegmented), the ingress port
 * and the forwarding decision. Headroom in front of every frame makes
 * encapsulation an offset change plus header writes.
 */
export const HEADROOM = 256;
export const VNET_HDR_LEN = 12;
export const FRAME_MAX = 14 + 4 + 65535;
export const SLOT_SIZE = 67584;

export const D_OFF = 0;
export const D_LEN = 1;
export const D_PORT = 2;
export const D_OUT = 3;
export const D_VFLAGS = 4;
export const D_GSO_TYPE = 5;
export const D_HDR_LEN = 6;
export const D_GSO_SIZE = 7;
export const D_CSUM_START = 8;
export const D_CSUM_OFF = 9;
export const D_SLOT = 10;
export const D_AUX = 11;
export const DESC_STRIDE = 12;

/** Values of D_OUT below zero: what the forwarding stages decided other than "send to port N". */
export const OUT_NONE = -1;
export const OUT_FLOOD = -2;
export const OUT_DROP = -3;
/**
 * A stage before egress already put the row on its output ports' transmit queues (a set of ports that
 * neither one port id nor OUT_FLOOD can say: src/dataplane/replicate.ts); egress leaves the row alone.
 */
export const OUT_QUEUED = -4;

export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_ECN = 0x80;
