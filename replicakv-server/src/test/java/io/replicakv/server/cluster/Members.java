package io.replicakv.server.cluster;

/** Test members on loopback with distinct ports. */
final class Members {
  private Members() {}

  static Member member(String id, int index, MemberState state) {
    return member(id, index, state, "");
  }

  static Member member(String id, int index, MemberState state, String rack) {
    int base = 20_000 + 10 * index;
    return new Member(
        id, "127.0.0.1", base, base + 1, base + 2, base + 3, "site1", rack, state, index < 3);
  }
}
