package io.replicakv.core;

import io.replicakv.core.msg.Message;

/**
 * A replication role as a pure state machine that its caller drives, in the shape of etcd's raft
 * library.
 *
 * <p>The caller (the server's node loop, or the simulator) owns clock, disk and network and orders
 * them the same way every time:
 *
 * <ol>
 *   <li>feed inputs: {@link #step(Message)} for each client request or peer message, {@link
 *       #tick()} once per logical tick;
 *   <li>take {@link #ready()}; append its {@link Ready#records()} to durable storage and, when
 *       {@link Ready#syncBeforeSend()} is set, sync them;
 *   <li>send {@link Ready#messages()}, then deliver {@link Ready#replies()} to clients;
 *   <li>call {@link #advance(Ready)} with that same Ready, and repeat from step 2 until {@link
 *       Ready#isEmpty()}.
 * </ol>
 *
 * <p>A replica never reads a clock, draws randomness or performs I/O; time and randomness it needs
 * are handed to its constructor (for example a {@link PhysicalClock}). After a crash the caller
 * builds a new replica from the records its disk kept; nothing else survives.
 */
public interface Replica {
  /** Applies one input: a client request or a message from a peer. */
  void step(Message message);

  /** Advances logical time by one tick; timeouts and retransmissions are counted in ticks. */
  void tick();

  /** What the caller must do next; {@link Ready#EMPTY} when there is nothing. */
  Ready ready();

  /** Acknowledges that the caller persisted, sent and replied everything in {@code done}. */
  void advance(Ready done);
}
