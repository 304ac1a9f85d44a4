package io.replicakv.net.peer;

/**
 * The peer received the request and answered it with an ERROR frame: its handler called {@link
 * FrameHandler.Responder#fail}, threw, or the peer refused the frame itself (too large, busy).
 */
public final class PeerErrorException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String peer;
  private final String remoteMessage;

  /** An exception for the ERROR frame {@code remoteMessage} sent by {@code peer}. */
  public PeerErrorException(String peer, String remoteMessage) {
    super(peer + " answered with an error: " + remoteMessage);
    this.peer = peer;
    this.remoteMessage = remoteMessage;
  }

  /** The peer as {@code host:port}. */
  public String peer() {
    return peer;
  }

  /** The message the peer put in its ERROR frame. */
  public String remoteMessage() {
    return remoteMessage;
  }
}
