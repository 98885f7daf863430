{
  "targets": [
    {
      "target_name": "pcap_batch",
      "sources": ["pcap_batch.c", "link_events.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lpcap"]
    }
  ]
}
