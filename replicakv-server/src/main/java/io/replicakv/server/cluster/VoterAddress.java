package io.replicakv.server.cluster;

import io.replicakv.core.util.Check;

/** Where a metadata voter's Raft server listens. */
public record VoterAddress(String id, String host, int metadataPort) {
  /** Validates the fields. */
  public VoterAddress {
    Check.argument(id != null && !id.isBlank(), "voter id must be non-empty");
    Check.argument(host != null && !host.isBlank(), "voter %s: host must be non-empty", id);
    Check.argument(
        metadataPort > 0 && metadataPort <= Member.PORT_MAX,
        "voter %s: metadataPort %s not in [1, %s]",
        id,
        metadataPort,
        Member.PORT_MAX);
  }

  /** {@code host:port}, the form Ratis peers are addressed by. */
  public String address() {
    return host + ":" + metadataPort;
  }
}
