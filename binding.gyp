{
  "targets": [
    {
      "target_name": "tsnet_native",
      "sources": [
        "native/src/addon.c",
        "native/src/errors.c",
        "native/src/tap.c",
        "native/src/pool.c",
        "native/src/burst.c",
        "native/src/readiness.c",
        "native/src/gso.c",
        "native/src/gso_binding.c",
        "native/src/netns.c",
        "native/src/netlink.c",
        "native/src/udp_vtep.c",
        "native/src/bpf.c",
        "native/src/pcap_live.c",
        "native/src/af_packet.c",
        "native/src/napi_args.c",
        "native/src/vtep_rx.c",
        "native/src/vtep_tx.c",
        "native/src/vtep_addr6.c",
        "native/src/packet_rx.c",
        "native/src/wg_crypto.c",
        "native/src/wg_data_aead.c",
        "native/src/wg_transport.c",
        "native/src/wg_tx.c",
        "native/src/udp_batch.c",
        "native/src/flow_hash.c"
      ],
      "libraries": ["-lpcap", "-lcrypto"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11", "-fvisibility=hidden"]
    }
  ]
}
