/*
 * flow_hash.h - the hash of a frame's flow, so that one flow always leaves a VTEP with the same outer
 * UDP source port (RFC 7348 section 5: ECMP in the underlay spreads flows, keeps a flow on one path
 * and in order). One parser and one hash for the VXLAN VTEPs (vtep_tx.c: it picks the transmit socket)
 * and the WireGuard ones (wg_tx.c: it picks the inner UDP source port). No Node-API, no syscalls.
 */
#ifndef TSN_FLOW_HASH_H
#define TSN_FLOW_HASH_H
#include <stddef.h>
#include <stdint.h>

/*
 * tsn_flow_hash() - Hash of the flow of Ethernet frame @f (@len bytes): IPv4/IPv6 addresses, protocol
 * and TCP/UDP/SCTP ports (not for IPv4 fragments), else the MAC addresses and EtherType. One 802.1Q or
 * 802.1ad tag is skipped.
 */
uint32_t tsn_flow_hash(const uint8_t *f, size_t len);

#endif
