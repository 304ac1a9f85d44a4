package io.replicakv.server.move;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.ring.Slots;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The move's progress bookkeeping, its rate and ETA math, and the byte formatting. */
class MoveProgressTest {
  static final long SEED = 11;
  static final long NOW_MILLIS = 1_000_000;
  static final long SECOND = 1_000_000_000L;

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void rateIsGrowthOverTheWindowAndEtaRoundsUp() {
    RateWindow rate = new RateWindow(3 * SECOND, 64);
    assertThat(rate.perSecond()).isNaN();
    rate.add(0, 0);
    rate.add(SECOND / 10, 100);
    assertThat(rate.perSecond()).as("span below the minimum").isNaN();
    for (int i = 1; i <= 10; i++) {
      rate.add(i * SECOND / 2, i * 500L); // 1000 bytes per second
    }
    assertThat(rate.perSecond()).isCloseTo(1000.0, org.assertj.core.data.Offset.offset(1e-6));
    // the window forgets the old pace: now 4000 bytes per second for 4 seconds
    long t = 5 * SECOND;
    long total = 5000;
    for (int i = 1; i <= 8; i++) {
      rate.add(t + i * SECOND / 2, total + i * 2000L);
    }
    assertThat(rate.perSecond()).isCloseTo(4000.0, org.assertj.core.data.Offset.offset(1e-6));
    // a total that falls (the copy restarted) starts over
    rate.add(10 * SECOND, 10);
    assertThat(rate.perSecond()).isNaN();
    assertThat(RateWindow.etaSeconds(0, Double.NaN)).isZero();
    assertThat(RateWindow.etaSeconds(1000, Double.NaN)).isEqualTo(-1);
    assertThat(RateWindow.etaSeconds(1000, 0)).isEqualTo(-1);
    assertThat(RateWindow.etaSeconds(1000, 1000)).isEqualTo(1);
    assertThat(RateWindow.etaSeconds(1001, 1000)).isEqualTo(2);
    assertThat(RateWindow.etaSeconds(5_000_000, 1_000_000)).isEqualTo(5);
  }

  @Test
  void rateWindowKeepsAtMostItsSampleBound() {
    RateWindow rate = new RateWindow(60 * SECOND, 4);
    for (int i = 0; i < 100; i++) {
      rate.add(i * SECOND, i * 10L);
    }
    // only the last 4 samples (3 seconds) remain, all at 10 bytes per second
    assertThat(rate.perSecond()).isCloseTo(10.0, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void bytesAreFormattedInBinaryUnits() {
    assertThat(MoveProgress.formatBytes(0)).isEqualTo("0 B");
    assertThat(MoveProgress.formatBytes(1023)).isEqualTo("1023 B");
    assertThat(MoveProgress.formatBytes(1024)).isEqualTo("1.0 KiB");
    assertThat(MoveProgress.formatBytes(1_258_291)).isEqualTo("1.2 MiB");
    assertThat(MoveProgress.formatBytes(1024L * 1024 - 1)).isEqualTo("1.0 MiB");
    assertThat(MoveProgress.formatBytes(5L << 30)).isEqualTo("5.0 GiB");
    assertThat(MoveProgress.formatBytes(Long.MAX_VALUE)).isEqualTo("8.0 EiB");
  }

  /**
   * The unit of progress is the unit of the plan: copying every key of the moving slots, as the
   * mover builds its batches, carries exactly the data bytes the slot counters planned.
   */
  @Test
  void copyingEveryMovingKeyCarriesExactlyThePlannedBytes() {
    Random random = new Random(SEED);
    MemoryState state = new MemoryState(3);
    for (int i = 0; i < 500; i++) {
      int ks = i % 3;
      byte[] key = b((i % 4 == 0 ? "{tag" + (i % 7) + "}" : "key") + i);
      byte[] value = new byte[random.nextInt(40)];
      switch (i % 3) {
        case 0 ->
            state.apply(new Mutation.StringSet(ks, key, value, i % 2 == 0 ? 0 : 2 * NOW_MILLIS));
        case 1 ->
            state.apply(new Mutation.HashSet(ks, key, List.of(b("f" + i), value, b("g"), b("x"))));
        default -> state.apply(new Mutation.SetAdd(ks, key, List.of(b("m" + i), b("n"))));
      }
    }
    String[] targetBySlot = new String[Slots.SLOT_COUNT];
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot += 3) {
      targetBySlot[slot] = "n9";
    }
    long[] planned = MoveProgress.plannedFromCounters(state, targetBySlot);
    List<Mutation> batch = new ArrayList<>();
    long[] keys = {0};
    for (int ks = 0; ks < 3; ks++) {
      int keyspace = ks;
      state.forEachEntry(
          ks,
          (key, value, expireAt) -> {
            if (targetBySlot[Slots.slot(key.array())] != null) {
              keys[0]++;
              KeyMover.currentState(state, keyspace, key, NOW_MILLIS, batch);
            }
          });
    }
    assertThat(planned[0]).isEqualTo(keys[0]).isPositive();
    assertThat(MoveProgress.dataBytes(batch)).isEqualTo(planned[1]).isPositive();

    AtomicLong nanos = new AtomicLong();
    MoveProgress progress = new MoveProgress(40_000, nanos::get);
    progress.start("n9", List.of("n9"));
    progress.copyStarted(state, targetBySlot);
    MoveProgress.Snapshot s = progress.snapshot();
    assertThat(s.phase()).isEqualTo(MoveProgress.Phase.COPY);
    assertThat(s.plannedKeys()).isEqualTo(planned[0]);
    assertThat(s.plannedBytes()).isEqualTo(planned[1]);
    assertThat(s.etaSeconds()).as("no rate yet").isEqualTo(-1);
    int half = batch.size() / 2;
    nanos.set(SECOND);
    progress.onBatchesAcknowledged(keys[0] / 2, List.of(batch.subList(0, half)), 123);
    s = progress.snapshot();
    long firstHalf = MoveProgress.dataBytes(batch.subList(0, half));
    assertThat(s.copiedBytes()).isEqualTo(firstHalf);
    assertThat(s.copyBytesPerSecond())
        .isCloseTo(firstHalf, org.assertj.core.data.Offset.offset(1e-6));
    assertThat(s.etaSeconds()).isEqualTo(RateWindow.etaSeconds(planned[1] - firstHalf, firstHalf));
    nanos.set(2 * SECOND);
    progress.onBatchesAcknowledged(
        keys[0] - keys[0] / 2, List.of(batch.subList(half, batch.size())), 456);
    s = progress.snapshot();
    assertThat(s.copiedKeys()).isEqualTo(s.plannedKeys());
    assertThat(s.copiedBytes()).isEqualTo(s.plannedBytes());
    assertThat(s.wireBytes()).isEqualTo(579);
    assertThat(s.etaSeconds()).isZero();
    progress.phase(MoveProgress.Phase.DELTA);
    progress.onBatchesAcknowledged(3, List.of(batch.subList(0, 3)), 10);
    s = progress.snapshot();
    assertThat(s.copiedBytes())
        .as("delta rounds are not copy progress")
        .isEqualTo(s.plannedBytes());
    assertThat(s.deltaKeys()).isEqualTo(3);
    String text = MoveProgress.render("n1", s);
    assertThat(text)
        .contains("node:n1\r\n", "member:n9\r\n", "phase:delta\r\n", "targets:n9\r\n")
        .contains("planned_bytes:" + planned[1] + "\r\n", "throttle_bytes_per_sec:40000\r\n");
    progress.finish(true);
    s = progress.snapshot();
    assertThat(s.phase()).isEqualTo(MoveProgress.Phase.IDLE);
    assertThat(s.member()).isEmpty();
    assertThat(s.lastMember()).isEqualTo("n9");
    assertThat(s.lastResult()).isEqualTo("done");
  }

  @Test
  void aRestartedCopyTakesItsPlanAgainFromZero() {
    MemoryState state = new MemoryState(1);
    state.apply(new Mutation.StringSet(0, b("a"), b("12345"), 0));
    String[] targetBySlot = new String[Slots.SLOT_COUNT];
    targetBySlot[Slots.slot("a")] = "n2";
    MoveProgress progress = new MoveProgress(0, () -> 0);
    progress.start("n2", List.of("n2"));
    progress.copyStarted(state, targetBySlot);
    progress.onBatchesAcknowledged(
        1, List.of(List.of(new Mutation.StringSet(0, b("a"), b("12345"), 0))), 20);
    assertThat(progress.snapshot().copiedBytes()).isEqualTo(6);
    state.apply(new Mutation.StringSet(0, b("a"), b("1234567890"), 0));
    progress.copyStarted(state, targetBySlot);
    MoveProgress.Snapshot s = progress.snapshot();
    assertThat(s.copiedBytes()).isZero();
    assertThat(s.plannedBytes()).isEqualTo(11);
    assertThat(s.copyRestarts()).isEqualTo(1);
    progress.finish(false);
    assertThat(progress.snapshot().lastResult()).isEqualTo("cancelled");
  }
}
