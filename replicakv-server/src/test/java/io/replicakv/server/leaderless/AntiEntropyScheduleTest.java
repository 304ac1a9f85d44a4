package io.replicakv.server.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The node setting's 0 turns scheduled anti-entropy off; the core default stays distinct. */
class AntiEntropyScheduleTest {
  @Test
  void settingZeroIsOffAndNotTheCoresOwnSchedule() {
    LeaderlessService.AntiEntropySchedule off =
        LeaderlessService.AntiEntropySchedule.ofSettings(0, 1_000);
    assertThat(off.off()).isTrue();
    // the server schedules (so the core starts none) and its interval never comes round
    assertThat(off.intervalMillis()).isPositive();
    assertThat(
            LeaderlessKeyspaces.coreConfig(
                    io.replicakv.core.quorum.KeyspaceConfig.defaults(
                        "ll", 16, io.replicakv.core.quorum.Style.LEADERLESS, 3),
                    off.intervalMillis() > 0)
                .antiEntropyIntervalTicks())
        .isZero();
    LeaderlessService.AntiEntropySchedule every =
        LeaderlessService.AntiEntropySchedule.ofSettings(2_000, 0);
    assertThat(every.off()).isFalse();
    assertThat(every.intervalMillis()).isEqualTo(2_000);
    assertThat(LeaderlessService.AntiEntropySchedule.CORE.off()).isFalse();
  }
}
