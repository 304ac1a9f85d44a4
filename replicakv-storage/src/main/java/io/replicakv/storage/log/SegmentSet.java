package io.replicakv.storage.log;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The ordered list of segments, shared by the writer thread (which adds a segment on roll) and the
 * caller thread (which replays and deletes old segments). The last segment is the active one.
 */
final class SegmentSet {
  private final ReentrantLock lock = new ReentrantLock();
  private final List<Segment> segments = new ArrayList<>();

  SegmentSet(List<Segment> recovered) {
    segments.addAll(recovered);
    for (int i = 1; i < segments.size(); i++) {
      Check.state(
          segments.get(i - 1).firstSequence <= segments.get(i).firstSequence,
          "segments out of order: %s before %s",
          segments.get(i - 1),
          segments.get(i));
    }
  }

  void add(Segment segment) {
    lock.lock();
    try {
      if (!segments.isEmpty()) {
        Segment last = segments.getLast();
        Check.state(
            last.firstSequence <= segment.firstSequence,
            "new segment %s starts before active %s",
            segment,
            last);
      }
      segments.add(segment);
    } finally {
      lock.unlock();
    }
  }

  List<Segment> snapshot() {
    lock.lock();
    try {
      return List.copyOf(segments);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Removes from the list (not from disk) every segment, except the last, whose records all have a
   * sequence below {@code sequence}: those followed by a segment starting at or below it.
   */
  List<Segment> removeBefore(long sequence) {
    lock.lock();
    try {
      List<Segment> removed = new ArrayList<>();
      while (segments.size() > 1 && segments.get(1).firstSequence <= sequence) {
        removed.add(segments.removeFirst());
      }
      return removed;
    } finally {
      lock.unlock();
    }
  }
}
