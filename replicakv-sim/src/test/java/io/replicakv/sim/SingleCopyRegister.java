package io.replicakv.sim;

import io.replicakv.core.CommittedEntry;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The simplest toy: one node holds the only copy of every register. With {@code syncWrites} it
 * syncs each write before acknowledging it, which makes it linearizable across crashes; without, a
 * crash forgets acknowledged writes that were still in the page cache, which the lost-write and
 * linearizability checkers must catch. Used to test the simulator's disk model end to end.
 */
public final class SingleCopyRegister implements Replica, StateView {
  private final boolean syncWrites;
  private final ReadyBuffer out = new ReadyBuffer();
  private final Map<String, String> values = new TreeMap<>();
  private long offset;

  private SingleCopyRegister(boolean syncWrites, ReplicaFactory.NodeContext context) {
    Check.argument(
        context.members().size() == 1, "single copy needs one node, got %s", context.members());
    this.syncWrites = syncWrites;
    for (PersistRecord record : context.recovered()) {
      String[] keyValue = new String(record.payload(), StandardCharsets.UTF_8).split("\u0000", 2);
      values.put(keyValue[0], keyValue[1]);
      offset++;
    }
  }

  /** Builds a single-copy register that syncs writes before acknowledging them, or not. */
  public static ReplicaFactory factory(boolean syncWrites) {
    return context -> new SingleCopyRegister(syncWrites, context);
  }

  @Override
  public void step(Message message) {
    switch (message) {
      case ClientRequest request -> onClientRequest(request);
      case PeerMessage peer ->
          throw new IllegalArgumentException("single copy has no peers: " + peer);
    }
  }

  private void onClientRequest(ClientRequest request) {
    switch (request.operation()) {
      case Operation.Put put -> {
        values.put(put.key(), put.value());
        offset++;
        out.persist(
            new PersistRecord(
                (put.key() + "\u0000" + put.value()).getBytes(StandardCharsets.UTF_8)),
            syncWrites);
        out.commit(new CommittedEntry(0, offset, put));
        out.reply(ClientReply.to(request, new Reply.Written()));
      }
      case Operation.Write write ->
          out.reply(
              ClientReply.to(request, new Reply.Rejected("the register keeps no opaque writes")));
      case Operation.Get get -> {
        String value = values.get(get.key());
        out.reply(
            ClientReply.to(request, new Reply.Values(value == null ? List.of() : List.of(value))));
      }
    }
  }

  @Override
  public void tick() {}

  @Override
  public Ready ready() {
    return out.ready();
  }

  @Override
  public void advance(Ready done) {
    out.advance(done);
  }

  @Override
  public Map<String, List<String>> visibleState() {
    Map<String, List<String>> state = new TreeMap<>();
    values.forEach((key, value) -> state.put(key, List.of(value)));
    return state;
  }
}
