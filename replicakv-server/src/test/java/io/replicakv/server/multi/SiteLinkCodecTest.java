package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.crdt.PNCounter;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.Change;
import io.replicakv.core.multi.KeyState;
import io.replicakv.core.multi.Mutation;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class SiteLinkCodecTest {
  private static final List<String> SITES = List.of("a", "b", "c");

  @Test
  void everyMessageTypeRoundTrips() {
    List<SiteLinkCodec.Item> items = everyType();
    assertThat(SiteLinkCodec.decode(SiteLinkCodec.encode(items))).isEqualTo(items);
  }

  @Test
  void anAnnouncementRoundTrips() {
    SiteLinkCodec.Announce announce =
        new SiteLinkCodec.Announce(
            "carts",
            SITES,
            new TreeMap<>(Map.of("conflicts", "merge:max", "topology", "star", "hub", "b")));
    assertThat(SiteLinkCodec.decodeAnnounce(SiteLinkCodec.encodeAnnounce(announce)))
        .isEqualTo(announce);
  }

  @Property(tries = 500, seed = "1201")
  void aFlippedByteDecodesOrIsRefusedAsCorrupt(
      @ForAll @IntRange(min = 0, max = 1_000_000) int where,
      @ForAll @IntRange(min = 1, max = 255) int flip) {
    byte[] frame = SiteLinkCodec.encode(everyType());
    frame[where % frame.length] ^= (byte) flip;
    decodesOrIsCorrupt(frame);
  }

  @Property(tries = 300, seed = "2012")
  void everyTruncationIsRefusedAsCorrupt(@ForAll @IntRange(min = 0, max = 1_000_000) int cut) {
    byte[] frame = SiteLinkCodec.encode(everyType());
    byte[] truncated = Arrays.copyOf(frame, cut % frame.length);
    assertThatThrownBy(() -> SiteLinkCodec.decode(truncated))
        .isInstanceOf(CorruptEncodingException.class);
  }

  @Property(tries = 300, seed = "99")
  void randomBytesNeverEscapeAsAnotherException(@ForAll byte[] noise) {
    decodesOrIsCorrupt(noise);
    try {
      SiteLinkCodec.decodeAnnounce(noise);
    } catch (CorruptEncodingException expected) {
      // refused as corrupt: fine
    }
  }

  @Test
  void anUnknownVersionIsRefusedByName() {
    byte[] frame = SiteLinkCodec.encode(everyType());
    frame[0] = 2;
    assertThatThrownBy(() -> SiteLinkCodec.decode(frame))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("version 2");
  }

  @Test
  void aCountLargerThanTheFrameIsRefusedBeforeAllocating() {
    byte[] frame = {1, (byte) 0xFF, (byte) 0x1F};
    assertThatThrownBy(() -> SiteLinkCodec.decode(frame))
        .isInstanceOf(CorruptEncodingException.class);
  }

  @Test
  void aMessageAddressedOutsideTheSiteListIsRefused() {
    assertThatThrownBy(
            () ->
                new SiteLinkCodec.Item(
                    "carts", List.of("a", "b"), new SiteMessage.LockRequest(0, 2, 0, "k")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static List<SiteLinkCodec.Item> everyType() {
    VersionVector one = VersionVector.of(Map.of("a", 1L));
    Change assign =
        new Change(
            new Dot("a", 1),
            VersionVector.EMPTY,
            VersionVector.EMPTY,
            new Hlc(1_000, 0),
            "k",
            new Mutation.Assign("v"));
    Change delete =
        new Change(new Dot("a", 2), one, one, new Hlc(1_001, 3), "k", new Mutation.Delete(), 4);
    Change counter =
        new Change(
            new Dot("b", 1),
            one,
            VersionVector.EMPTY,
            new Hlc(1_002, 0),
            "n",
            new Mutation.CrdtState(PNCounter.EMPTY.add("b", 5)));
    return List.of(
        item(
            new SiteMessage.Changes(
                0,
                1,
                0,
                3,
                9,
                List.of(
                    new SiteMessage.Entry(4, assign, List.of("a")),
                    new SiteMessage.Entry(7, delete, List.of("a", "c")),
                    new SiteMessage.Entry(9, counter, List.of("b", "c", "a"))))),
        item(new SiteMessage.Changes(0, 1, 0, 9, 9, List.of())),
        item(new SiteMessage.ChangesAck(1, 0, 0, 5, 9, false)),
        item(new SiteMessage.LockRequest(2, 0, 0, "k")),
        item(new SiteMessage.LockGrant(0, 2, 0, "k", 3, one)),
        item(new SiteMessage.LockBusy(0, 1, 0, "k", "c")),
        item(new SiteMessage.LockRelease(2, 0, 0, "k", 3, one)),
        item(new SiteMessage.LockReleaseAck(0, 2, 0, "k", 3)),
        item(new SiteMessage.HomeWrite(1, 2, 0, 17, "k", "value")),
        item(new SiteMessage.HomeWriteReply(2, 1, 0, 17, new Reply.Written(new Lsn(2, 5)))),
        item(new SiteMessage.HomeWriteReply(2, 1, 0, 18, new Reply.Values(List.of("x", "y")))),
        item(new SiteMessage.HomeWriteReply(2, 1, 0, 19, new Reply.Rejected("no"))),
        item(new SiteMessage.HomeWriteReply(2, 1, 0, 20, new Reply.Uncertain("maybe"))),
        item(
            new SiteMessage.CatchUpPage(
                0,
                1,
                0,
                42,
                VersionVector.of(Map.of("a", 2L, "b", 1L)),
                3,
                6,
                List.of(
                    new KeyState.Entry(
                        "k",
                        new KeyState(
                            VersionVector.of(Map.of("a", 2L, "b", 1L)),
                            List.of(
                                new KeyState.Version(
                                    new Dot("a", 2), new Hlc(1_001, 3), new Mutation.Delete(), 4),
                                new KeyState.Version(
                                    new Dot("b", 1),
                                    new Hlc(1_000, 0),
                                    new Mutation.Assign("v"))))),
                    new KeyState.Entry(
                        "n",
                        new KeyState(
                            one,
                            List.of(
                                new KeyState.Version(
                                    new Dot("a", 1),
                                    new Hlc(1_002, 0),
                                    new Mutation.CrdtState(PNCounter.EMPTY.add("a", 5)))))),
                    new KeyState.Entry("never", KeyState.EMPTY)))),
        item(new SiteMessage.CatchUpPage(1, 0, 0, 0, VersionVector.EMPTY, 0, 0, List.of())),
        item(new SiteMessage.CatchUpAck(1, 0, 0, 42, one, 6, true)));
  }

  private static SiteLinkCodec.Item item(SiteMessage message) {
    return new SiteLinkCodec.Item("carts", SITES, message);
  }

  private static void decodesOrIsCorrupt(byte[] frame) {
    try {
      SiteLinkCodec.decode(frame);
    } catch (CorruptEncodingException expected) {
      // refused as corrupt: fine
    }
  }
}
